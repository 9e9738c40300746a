package gitrepo

import (
	"container/heap"
	"context"
	"errors"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/code-releaser/code-releaser/workflow"
)

// IsAncestor reports whether commit a is reachable from commit b (a commit
// is its own ancestor).
func (m *Mirror) IsAncestor(ctx context.Context, a, b string) (bool, error) {
	const op = "git.is_ancestor"
	ha, err := parseSHA(op, "commit", a)
	if err != nil {
		return false, err
	}
	hb, err := parseSHA(op, "commit", b)
	if err != nil {
		return false, err
	}
	done, err := m.begin(op)
	if err != nil {
		return false, err
	}
	defer done()
	for _, h := range []plumbing.Hash{ha, hb} {
		if err := m.haveCommit(op, h); err != nil {
			return false, err
		}
	}
	if err := m.syncGrafts(ctx); err != nil {
		return false, m.localError(op, err)
	}
	ok, err := m.merger.IsAncestor(ctx, ha, hb)
	if err != nil {
		return false, workflow.Wrap(op, workflow.Internal, "", err)
	}
	return ok, nil
}

// Log lists the commits reachable from tip and not from base (base may be
// "": then all of tip's history), newest first, each with the paths it
// changed against its first parent. The walk stops where tip's history
// joins base's, so its cost grows with the commits listed, not with the
// repository's history.
func (m *Mirror) Log(ctx context.Context, base, tip string) ([]workflow.Commit, error) {
	const op = "git.log"
	ht, err := parseSHA(op, "tip", tip)
	if err != nil {
		return nil, err
	}
	var bases []plumbing.Hash
	if base != "" {
		hb, err := parseSHA(op, "base", base)
		if err != nil {
			return nil, err
		}
		bases = append(bases, hb)
	}
	done, err := m.begin(op)
	if err != nil {
		return nil, err
	}
	defer done()
	for _, h := range append([]plumbing.Hash{ht}, bases...) {
		if err := m.haveCommit(op, h); err != nil {
			return nil, err
		}
	}
	if err := m.syncGrafts(ctx); err != nil {
		return nil, m.localError(op, err)
	}
	commits, err := m.revList(ctx, []plumbing.Hash{ht}, bases)
	if err != nil {
		return nil, m.localError(op, err)
	}
	out := make([]workflow.Commit, 0, len(commits))
	for _, c := range commits {
		files, err := m.changedFiles(ctx, c)
		if err != nil {
			return nil, m.localError(op, err)
		}
		wc := workflow.Commit{
			SHA:     c.Hash.String(),
			Author:  c.Author.Name,
			When:    c.Author.When,
			Subject: subject(c.Message),
			Message: c.Message,
			Files:   files,
		}
		for _, p := range c.ParentHashes {
			wc.Parents = append(wc.Parents, p.String())
		}
		out = append(out, wc)
	}
	return out, nil
}

// localError classifies an error of a local operation on the mirror.
func (m *Mirror) localError(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, object.ErrCanceled) {
		return workflow.Wrap(op, workflow.Unavailable, msgCancelled, err)
	}
	return workflow.Wrap(op, workflow.Internal, "", err)
}

// subject is the first paragraph of a commit message on one line, as git
// shows it.
func subject(msg string) string {
	para, _, _ := strings.Cut(strings.TrimLeft(msg, "\n"), "\n\n")
	return strings.Join(strings.Fields(para), " ")
}

// changedFiles lists the paths c changed against its first parent (all its
// files for a root commit), sorted. Equal subtrees are skipped by hash.
func (m *Mirror) changedFiles(ctx context.Context, c *object.Commit) ([]string, error) {
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	var parentTree *object.Tree
	if len(c.ParentHashes) > 0 {
		p, err := object.GetCommit(m.objects(), c.ParentHashes[0])
		if err != nil {
			return nil, err
		}
		if parentTree, err = p.Tree(); err != nil {
			return nil, err
		}
	}
	changes, err := object.DiffTreeWithOptions(ctx, parentTree, tree, &object.DiffTreeOptions{})
	if err != nil {
		return nil, err
	}
	files := make([]string, 0, len(changes))
	for _, ch := range changes {
		name := ch.To.Name
		if name == "" {
			name = ch.From.Name
		}
		files = append(files, name)
	}
	return files, nil
}

// Flags of the commits met by revList.
const (
	uninteresting uint8 = 1 << iota // reachable from an excluded commit
	popped                          // taken out of the queue
)

type walkNode struct {
	c     *object.Commit
	flags uint8
	index int // in the queue, -1 when out
}

// walkQueue is a priority queue of commits, newest committer date first.
type walkQueue []*walkNode

func (q walkQueue) Len() int { return len(q) }
func (q walkQueue) Less(i, j int) bool {
	ti, tj := q[i].c.Committer.When, q[j].c.Committer.When
	if ti.Equal(tj) {
		return q[i].c.Hash.String() < q[j].c.Hash.String()
	}
	return ti.After(tj)
}
func (q walkQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *walkQueue) Push(x any) {
	n := x.(*walkNode)
	n.index = len(*q)
	*q = append(*q, n)
}
func (q *walkQueue) Pop() any {
	old := *q
	n := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	n.index = -1
	return n
}

// revList returns the commits reachable from include and not from exclude,
// newest first by committer date, like `git rev-list include --not exclude`.
// Excluded commits that are not in the mirror are ignored. It walks both
// sides by date and stops when only excluded commits older than what it
// listed are left to visit; like git, it trusts commit dates (a commit
// dated before its parent may be listed although excluded).
func (m *Mirror) revList(ctx context.Context, include, exclude []plumbing.Hash) ([]*object.Commit, error) {
	nodes := map[plumbing.Hash]*walkNode{}
	var queue walkQueue
	interesting := 0 // interesting nodes in the queue

	// markUninteresting marks n and, for the nodes already walked, their
	// ancestors met so far.
	markUninteresting := func(n *walkNode) {
		stack := []*walkNode{n}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if n.flags&uninteresting != 0 {
				continue
			}
			n.flags |= uninteresting
			if n.index >= 0 {
				interesting--
			}
			if n.flags&popped != 0 {
				for _, p := range m.parents(n.c) {
					if pn := nodes[p]; pn != nil {
						stack = append(stack, pn)
					}
				}
			}
		}
	}
	add := func(h plumbing.Hash, flags uint8, mustExist bool) error {
		if n := nodes[h]; n != nil {
			if flags&uninteresting != 0 {
				markUninteresting(n)
			}
			return nil
		}
		c, err := object.GetCommit(m.objects(), h)
		if err != nil {
			if !mustExist && errors.Is(err, plumbing.ErrObjectNotFound) {
				return nil
			}
			return err
		}
		n := &walkNode{c: c, flags: flags}
		nodes[h] = n
		heap.Push(&queue, n)
		if flags&uninteresting == 0 {
			interesting++
		}
		return nil
	}
	for _, h := range exclude {
		if err := add(h, uninteresting, false); err != nil {
			return nil, err
		}
	}
	for _, h := range include {
		if err := add(h, 0, true); err != nil {
			return nil, err
		}
	}
	var walked []*walkNode
	var oldest time.Time // the oldest interesting commit walked
	// Go on while interesting commits are queued, and while excluded ones
	// as recent as the oldest interesting commit walked are: with honest
	// dates (a commit no older than its parents, equal dates included),
	// only those could still reach it.
	for i := 0; interesting > 0 || len(walked) > 0 && queue.Len() > 0 && !queue[0].c.Committer.When.Before(oldest); i++ {
		if i%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		n := heap.Pop(&queue).(*walkNode)
		n.flags |= popped
		if n.flags&uninteresting == 0 {
			interesting--
			walked = append(walked, n)
			if when := n.c.Committer.When; oldest.IsZero() || when.Before(oldest) {
				oldest = when
			}
		}
		for _, p := range m.parents(n.c) {
			if err := add(p, n.flags&uninteresting, true); err != nil {
				return nil, err
			}
		}
	}
	var out []*object.Commit
	for _, n := range walked {
		if n.flags&uninteresting == 0 {
			out = append(out, n.c)
		}
	}
	return out, nil
}
