package mergetree

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/merge"
)

// Revisions are resolved here rather than by go-git's Repository: its
// package links go-git's transports (SSH, HTTP, the file protocol's
// server), whose initialisation is a third of the small binary's start.

// refRules are the names a short ref name may stand for, in the order they
// are tried: git's (refs.c's ref_rev_parse_rules: a tag before a branch of
// the same name), then origin's branch of that name, which git does not
// try.
var refRules = []string{"%s", "refs/%s", "refs/tags/%s", "refs/heads/%s",
	"refs/remotes/%s", "refs/remotes/%s/HEAD", "refs/remotes/origin/%s"}

// resolveCommit resolves a revision to a commit: a full object id, a ref
// name (see refRules), HEAD or @, or an abbreviated id (4 to 39 hex digits
// naming one commit), followed by any of git's ^, ^N, ~, ~N, ^{} and
// ^{commit}; annotated tags are peeled. Reflog (@{…}) and message-search
// (^{/…}, :/…) forms are refused.
func resolveCommit(refs *refs, m *merge.Merger, rev string) (plumbing.Hash, error) {
	objs := m.Storer()
	base, ops := rev, ""
	if i := strings.IndexAny(rev, "^~"); i >= 0 {
		base, ops = rev[:i], rev[i:]
	}
	h, err := resolveName(refs, m, base)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("resolve %q: %w", rev, err)
	}
	if h, err = peelToCommit(objs, h, rev); err != nil {
		return plumbing.ZeroHash, err
	}
	for ops != "" {
		op := ops[0]
		ops = ops[1:]
		if op == '^' && strings.HasPrefix(ops, "{") {
			end := strings.IndexByte(ops, '}')
			if end < 0 || (ops[1:end] != "" && ops[1:end] != "commit") {
				return plumbing.ZeroHash, fmt.Errorf("resolve %q: only ^{} and ^{commit} are understood after ^", rev)
			}
			ops = ops[end+1:]
			continue // already peeled to a commit
		}
		digits := len(ops) - len(strings.TrimLeft(ops, "0123456789"))
		n := 1
		if digits > 0 {
			if n, err = strconv.Atoi(ops[:digits]); err != nil {
				return plumbing.ZeroHash, fmt.Errorf("resolve %q: %w", rev, err)
			}
			ops = ops[digits:]
		}
		if op == '~' {
			for range n {
				if h, err = parent(objs, h, 1, rev); err != nil {
					return plumbing.ZeroHash, err
				}
			}
			continue
		}
		if n > 0 {
			if h, err = parent(objs, h, n, rev); err != nil {
				return plumbing.ZeroHash, err
			}
		}
	}
	return h, nil
}

// resolveName resolves what comes before any ^ or ~.
func resolveName(refs *refs, m *merge.Merger, name string) (plumbing.Hash, error) {
	if plumbing.IsHash(name) {
		return plumbing.NewHash(name), nil
	}
	if name == "" || name == "@" {
		name = "HEAD"
	}
	for _, rule := range refRules {
		h, err := refs.resolve(fmt.Sprintf(rule, name))
		if err == nil {
			return h, nil
		}
		if !errors.Is(err, plumbing.ErrReferenceNotFound) {
			return plumbing.ZeroHash, err
		}
	}
	if len(name) < 4 || len(name) >= 40 || strings.Trim(strings.ToLower(name), "0123456789abcdef") != "" {
		return plumbing.ZeroHash, plumbing.ErrReferenceNotFound
	}
	ids, err := m.ObjectsWithPrefix(name, 100)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	// as git for a committish: only the ids that name a commit (or a tag of
	// one) count
	var commits []plumbing.Hash
	for _, id := range ids {
		if _, err := peelToCommit(m.Storer(), id, name); err == nil {
			commits = append(commits, id)
		}
	}
	switch len(commits) {
	case 0:
		return plumbing.ZeroHash, plumbing.ErrReferenceNotFound
	case 1:
		return commits[0], nil
	}
	return plumbing.ZeroHash, fmt.Errorf("short object ID %s is ambiguous", name)
}

// peelToCommit follows annotated tags from h to a commit.
func peelToCommit(objs storer.EncodedObjectStorer, h plumbing.Hash, rev string) (plumbing.Hash, error) {
	for range 10 {
		obj, header, err := readHeader(objs, h, rev)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			return h, nil
		case plumbing.TagObject:
			target := headerValues(header, "object")
			if len(target) != 1 || !plumbing.IsHash(target[0]) {
				return plumbing.ZeroHash, fmt.Errorf("read %q (%s): a tag without a valid object line", rev, h)
			}
			h = plumbing.NewHash(target[0])
		default:
			return plumbing.ZeroHash, fmt.Errorf("%q is a %s, not a commit", rev, obj.Type())
		}
	}
	return plumbing.ZeroHash, errors.New("tag chain too long for " + rev)
}

// parent returns the n-th parent (from 1) of commit h.
func parent(objs storer.EncodedObjectStorer, h plumbing.Hash, n int, rev string) (plumbing.Hash, error) {
	obj, header, err := readHeader(objs, h, rev)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if obj.Type() != plumbing.CommitObject {
		return plumbing.ZeroHash, fmt.Errorf("read %q (%s): a %s, not a commit", rev, h, obj.Type())
	}
	parents := headerValues(header, "parent")
	if n > len(parents) {
		return plumbing.ZeroHash, fmt.Errorf("resolve %q: %s has %d parents", rev, h, len(parents))
	}
	if !plumbing.IsHash(parents[n-1]) {
		return plumbing.ZeroHash, fmt.Errorf("read %q (%s): bad parent line", rev, h)
	}
	return plumbing.NewHash(parents[n-1]), nil
}

// readHeader reads object h and the header of a commit or tag (the lines
// before the first empty one).
func readHeader(objs storer.EncodedObjectStorer, h plumbing.Hash, rev string) (plumbing.EncodedObject, string, error) {
	obj, err := objs.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return nil, "", fmt.Errorf("read %q (%s): %w", rev, h, err)
	}
	if t := obj.Type(); t != plumbing.CommitObject && t != plumbing.TagObject {
		return obj, "", nil
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, "", fmt.Errorf("read %q (%s): %w", rev, h, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, "", fmt.Errorf("read %q (%s): %w", rev, h, err)
	}
	header, _, _ := strings.Cut(string(b), "\n\n")
	return obj, header, nil
}

// headerValues returns the values of the header lines named key, in order.
func headerValues(header, key string) []string {
	var out []string
	for _, line := range strings.Split(header, "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			out = append(out, v)
		}
	}
	return out
}
