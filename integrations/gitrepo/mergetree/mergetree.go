// Package mergetree is `git merge-tree --write-tree` on the merge engine:
// the repository found as git finds it, revisions resolved as git resolves
// them, the result printed as git prints it. Both code-releaser
// merge-tree and the small code-releaser-merge-tree binary use it.
package mergetree

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/merge"
)

// Failed is the exit status when a merge cannot be made (no repository,
// an unknown revision, a broken object…), as git's 128: 1 means "merged,
// with conflicts" only, and 2 is a usage mistake.
const Failed = 128

// Usage is the arguments' synopsis.
const Usage = "[--name-only] OURS THEIRS"

// UsageError is a mistake on the command line.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// Args are merge-tree's arguments.
type Args struct {
	NameOnly     bool
	Ours, Theirs string
}

// ParseArgs reads `[--write-tree] [--name-only] OURS THEIRS`.
func ParseArgs(args []string) (Args, error) {
	var a Args
	var revs []string
	for _, s := range args {
		switch {
		case s == "--name-only":
			a.NameOnly = true
		case s == "--write-tree":
			// the only mode there is; accepted for git compatibility
		case strings.HasPrefix(s, "-"):
			return Args{}, UsageError{fmt.Sprintf("unknown option %q", s)}
		default:
			revs = append(revs, s)
		}
	}
	if len(revs) != 2 {
		return Args{}, UsageError{"need exactly two revisions"}
	}
	a.Ours, a.Theirs = revs[0], revs[1]
	return a, nil
}

// Env is where merge-tree runs: the directory it starts from (the
// repository is found from there as git finds it), the environment
// ($GIT_DIR), and where warnings go — what git only warns about (an
// alternate object directory that is missing, or nested too deep) is
// skipped, as git skips it, and said there.
type Env struct {
	Dir    string
	Getenv func(string) string
	Stderr io.Writer
}

// Merge merges the commit theirs names into the one ours names, in the
// repository env.Dir is in. Revisions are resolved as git does for a
// branch, a tag, a full or abbreviated id, HEAD, and the suffixes ^, ^N,
// ~, ~N, ^{} and ^{commit}; tags are peeled. The repository's files are
// released before it returns.
func Merge(ctx context.Context, env Env, ours, theirs string) (*merge.Result, error) {
	return mergeIn(ctx, env, ours, theirs, true)
}

// MergeAndExit is Merge for a process that exits once it has printed the
// result: the repository's files stay open and mapped, for the kernel to
// release at exit, which it does faster than unmapping them one by one
// (about 0.5 ms less for a merge in a git.git-sized repository).
func MergeAndExit(ctx context.Context, env Env, ours, theirs string) (*merge.Result, error) {
	return mergeIn(ctx, env, ours, theirs, false)
}

func mergeIn(ctx context.Context, env Env, ours, theirs string, release bool) (*merge.Result, error) {
	lr, err := openLocalRepo(env.Dir, env.Getenv)
	if err != nil {
		return nil, err
	}
	if env.Stderr != nil {
		lr.objs.seen.warn = func(msg string) { fmt.Fprintf(env.Stderr, "warning: %s\n", msg) }
	}
	// the alternates now, as git links them before a merge, so that what
	// is wrong with them is said whether or not the merge needs them
	if _, err := lr.objs.alternates(); err != nil {
		lr.Close()
		return nil, err
	}
	m, err := merge.NewOnDisk(lr.objs, lr.objectsDir)
	if err != nil {
		lr.Close()
		return nil, fmt.Errorf("open the objects of %s: %w", lr.gitDir, err)
	}
	if release {
		defer lr.Close()
		defer m.Close()
	}
	var hashes [2]plumbing.Hash
	for i, rev := range []string{ours, theirs} {
		if hashes[i], err = resolveCommit(lr.refs, m, rev); err != nil {
			return nil, err
		}
	}
	res, err := m.MergeCommits(ctx, hashes[0], hashes[1], merge.Options{OursLabel: ours, TheirsLabel: theirs})
	if err != nil {
		return nil, fmt.Errorf("merge %s into %s: %w", theirs, ours, err)
	}
	return res, nil
}

// Write prints a result in git merge-tree --write-tree's format (with
// --name-only when nameOnly).
func Write(w *bufio.Writer, res *merge.Result, nameOnly bool) {
	fmt.Fprintln(w, res.Tree)
	if res.Clean() {
		return
	}
	for _, c := range res.Conflicts {
		if nameOnly {
			fmt.Fprintln(w, quotePath(c.Path))
			continue
		}
		for i, s := range []merge.Stage{c.Base, c.Ours, c.Theirs} {
			if s.Present() {
				fmt.Fprintf(w, "%06o %s %d\t%s\n", uint32(s.Mode), s.Hash, i+1, quotePath(c.Path))
			}
		}
	}
	fmt.Fprintln(w)
	for _, m := range res.Messages {
		fmt.Fprintln(w, m.Text)
	}
}

// quotePath quotes a path as git does with core.quotePath=true.
func quotePath(p string) string {
	needs := false
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			needs = true
			break
		}
	}
	if !needs {
		return p
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\v':
			b.WriteString(`\v`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		default:
			if c < 0x20 || c >= 0x7f {
				fmt.Fprintf(&b, `\%03o`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
