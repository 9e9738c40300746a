package gitrepo

import (
	"context"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/code-releaser/code-releaser/workflow"
)

// Tip returns the SHA of a branch of the mirror (as of the last Fetch or
// Push); ok is false when the branch does not exist.
func (m *Mirror) Tip(ctx context.Context, branch string) (string, bool, error) {
	const op = "git.tip"
	if err := validBranch(op, branch); err != nil {
		return "", false, err
	}
	done, err := m.begin(op)
	if err != nil {
		return "", false, err
	}
	defer done()
	h, ok, err := m.ref(branch)
	if err != nil {
		return "", false, workflow.Wrap(op, workflow.Internal, "", err)
	}
	if !ok {
		return "", false, nil
	}
	return h.String(), true, nil
}

// ResolveTicket finds the branch of a ticket among the mirror's branches:
// the branch named exactly like the key, else the single branch whose name
// contains the key as a word (feature/JIRA-123-foo for JIRA-123, but not
// JIRA-1234), compared without regard to case. The production branch and
// the release branches are never a ticket's branch.
func (m *Mirror) ResolveTicket(ctx context.Context, key workflow.TicketKey) (workflow.Branch, error) {
	const op = "git.resolve"
	if !key.Valid() {
		return workflow.Branch{}, workflow.Errorf(op, workflow.Invalid, "%s is not a ticket key: use the Jira key, like OPS-123", printable(string(key)))
	}
	done, err := m.begin(op)
	if err != nil {
		return workflow.Branch{}, err
	}
	defer done()

	refs, err := m.st.IterReferences()
	if err != nil {
		return workflow.Branch{}, workflow.Wrap(op, workflow.Internal, "", err)
	}
	var exact *workflow.Branch
	var candidates []workflow.Branch
	err = refs.ForEach(func(r *plumbing.Reference) error {
		if r.Type() != plumbing.HashReference || !r.Name().IsBranch() {
			return nil
		}
		name := r.Name().Short()
		if name == m.cfg.ProductionBranch || strings.HasPrefix(name, m.cfg.ReleasePrefix) {
			return nil
		}
		b := workflow.Branch{Name: name, SHA: r.Hash().String()}
		switch {
		case name == string(key):
			exact = &b
		case containsWord(name, string(key)):
			candidates = append(candidates, b)
		}
		return nil
	})
	if err != nil {
		return workflow.Branch{}, workflow.Wrap(op, workflow.Internal, "", err)
	}
	switch {
	case exact != nil:
		return *exact, nil
	case len(candidates) == 1:
		return candidates[0], nil
	case len(candidates) == 0:
		return workflow.Branch{}, workflow.Errorf(op, workflow.NotFound,
			"no branch for %s: push a branch named %s (or feature/%s-...) first", key, key, key)
	}
	names := make([]string, len(candidates))
	for i, c := range candidates {
		names[i] = c.Name
	}
	sort.Strings(names)
	return workflow.Branch{}, workflow.Errorf(op, workflow.Invalid,
		"several branches match %s: %s; keep one, or name one exactly %s", key, strings.Join(names, ", "), key)
}

// containsWord reports whether s contains word, compared without regard to
// ASCII case, with no letter or digit right before or after it.
func containsWord(s, word string) bool {
	ls, lw := strings.ToLower(s), strings.ToLower(word)
	for from := 0; ; {
		i := strings.Index(ls[from:], lw)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(lw)
		if (i == 0 || !isAlnum(ls[i-1])) && (end == len(ls) || !isAlnum(ls[end])) {
			return true
		}
		from = i + 1
	}
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
