package gitrepo

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/code-releaser/code-releaser/workflow"
)

// A rollback puts a new commit on top of an env branch whose tree is an
// earlier commit's of the same branch (workflow.RollbackTarget names it):
// the branch's history is kept, nothing is force-pushed. For git, the
// undone releases' commits are still in the branch's history, so a later
// merge of the same ticket (or of master, once the ticket is in it) would
// take them as merged already and bring back only what is newer: git's
// "revert of a faulty merge" trap. The mirror therefore reads an env
// branch's history as if each of its rollback commits had the commit it
// restores as its only parent — a graft, as git's own grafts did — in every
// merge base, IsAncestor and Log. What the rollback undid then counts as
// never merged, and the next release or sync merges it again in full.
//
// Only the bot's own commits on an env branch's first-parent chain (its
// sync, release and rollback commits, down to the first commit that is not
// the bot's) are read, and a rollback's target must be further down that
// same chain: a ticket branch's author cannot graft anything (their commits
// are second parents), and a graft only ever hides history, never adds any.

// markGraftsStale tells the next operation to read the env branches' rollbacks
// again (after the mirror opened, fetched or pushed).
func (m *Mirror) markGraftsStale() { m.graftsStale = true }

// syncGrafts gives the merger the grafts of every env branch's rollback
// commits, when the branches moved since it last did. Called with the
// mirror taken.
func (m *Mirror) syncGrafts(ctx context.Context) error {
	if !m.graftsStale {
		return nil
	}
	refs, err := m.st.IterReferences()
	if err != nil {
		return fmt.Errorf("list branches: %w", err)
	}
	var tips []plumbing.Hash
	err = refs.ForEach(func(r *plumbing.Reference) error {
		if r.Type() == plumbing.HashReference && r.Name().IsBranch() && strings.HasPrefix(r.Name().Short(), m.cfg.ReleasePrefix) {
			tips = append(tips, r.Hash())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list branches: %w", err)
	}
	if m.chain == nil {
		m.chain = map[plumbing.Hash]plumbing.Hash{}
		m.grafts = map[plumbing.Hash]plumbing.Hash{}
	}
	for _, tip := range tips {
		if err := m.readChain(ctx, tip); err != nil {
			return err
		}
	}
	m.merger.SetGrafts(m.grafts)
	m.graftsStale = false
	return nil
}

// readChain walks tip's first-parent chain while its commits are the
// bot's and not read before, and records the grafts of the rollback
// commits whose target is further down their chain.
func (m *Mirror) readChain(ctx context.Context, tip plumbing.Hash) error {
	var rollbacks []plumbing.Hash
	targets := map[plumbing.Hash]plumbing.Hash{}
	for h := tip; ; {
		if _, read := m.chain[h]; read {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := object.GetCommit(m.objects(), h)
		if err != nil {
			return fmt.Errorf("read %s: %w", h, err)
		}
		if !workflow.IsReleaseMerge(c.Message) {
			break
		}
		parent := plumbing.ZeroHash
		if len(c.ParentHashes) > 0 {
			parent = c.ParentHashes[0]
		}
		m.chain[h] = parent
		if to, ok := workflow.RollbackTarget(c.Message); ok && len(c.ParentHashes) == 1 {
			rollbacks = append(rollbacks, h)
			targets[h] = plumbing.NewHash(to)
		}
		if parent.IsZero() {
			break
		}
		h = parent
	}
	for _, r := range rollbacks {
		to := targets[r]
		if m.onChainBelow(r, to) {
			m.grafts[r] = to
			continue
		}
		m.log.WarnContext(ctx, "git: a rollback commit's target is not further down its branch; read as a plain commit",
			slog.String("commit", r.String()), slog.String("target", to.String()))
	}
	return nil
}

// onChainBelow reports whether to is on the first-parent chain below the
// chain commit r: one of the bot's commits down that chain, or the commit
// the chain starts from.
func (m *Mirror) onChainBelow(r, to plumbing.Hash) bool {
	for h := m.chain[r]; !h.IsZero(); {
		if h == to {
			return true
		}
		next, ok := m.chain[h]
		if !ok {
			return false
		}
		h = next
	}
	return false
}

// parents returns c's parents as the mirror reads history: a rollback
// commit's graft, else its own.
func (m *Mirror) parents(c *object.Commit) []plumbing.Hash {
	if to, ok := m.grafts[c.Hash]; ok {
		return []plumbing.Hash{to}
	}
	return c.ParentHashes
}
