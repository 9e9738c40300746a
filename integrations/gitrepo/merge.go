package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/merge"
	"github.com/code-releaser/code-releaser/workflow"
)

// maxHunkLines caps the lines of each side reported per conflict hunk.
const maxHunkLines = 20

// Merge merges req.Theirs into req.Ours in memory. When ours already
// contains theirs it returns ours with UpToDate. A clean merge is written as
// a commit with parents ours and theirs (author: the requester with the
// configured author e-mail; committer: the bot) into the mirror's object
// store, and no ref is changed. A merge with conflicts writes no commit and
// returns the conflicted files with their hunks.
func (m *Mirror) Merge(ctx context.Context, req workflow.MergeRequest) (workflow.MergeOutcome, error) {
	const op = "git.merge"
	ours, err := parseSHA(op, "ours", req.Ours)
	if err != nil {
		return workflow.MergeOutcome{}, err
	}
	theirs, err := parseSHA(op, "theirs", req.Theirs)
	if err != nil {
		return workflow.MergeOutcome{}, err
	}
	if strings.TrimSpace(req.Message) == "" {
		return workflow.MergeOutcome{}, workflow.Errorf(op, workflow.Invalid, "a merge commit needs a message")
	}
	done, err := m.begin(op)
	if err != nil {
		return workflow.MergeOutcome{}, err
	}
	defer done()
	for _, h := range []plumbing.Hash{ours, theirs} {
		if err := m.haveCommit(op, h); err != nil {
			return workflow.MergeOutcome{}, err
		}
	}
	if err := m.syncGrafts(ctx); err != nil {
		return workflow.MergeOutcome{}, m.localError(op, err)
	}

	contained, err := m.merger.IsAncestor(ctx, theirs, ours)
	if err != nil {
		return workflow.MergeOutcome{}, workflow.Wrap(op, workflow.Internal, "", err)
	}
	if contained {
		return workflow.MergeOutcome{SHA: ours.String(), UpToDate: true}, nil
	}

	res, err := m.merger.MergeCommits(ctx, ours, theirs, merge.Options{OursLabel: req.OursLabel, TheirsLabel: req.TheirsLabel})
	if err != nil {
		if ctx.Err() != nil {
			return workflow.MergeOutcome{}, workflow.Wrap(op, workflow.Unavailable, msgCancelled, err)
		}
		return workflow.MergeOutcome{}, workflow.Wrap(op, workflow.Internal, "", err)
	}
	if !res.Clean() {
		conflicts, err := m.conflicts(res)
		if err != nil {
			return workflow.MergeOutcome{}, workflow.Wrap(op, workflow.Internal, "", err)
		}
		return workflow.MergeOutcome{Conflicts: conflicts}, nil
	}

	h, err := m.writeCommit(op, res.Tree, req.Message, req.Author, req.When, ours, theirs)
	if err != nil {
		return workflow.MergeOutcome{}, err
	}
	return workflow.MergeOutcome{SHA: h.String()}, nil
}

// writeCommit writes a commit of tree with parents (author: the requester
// with the configured author e-mail; committer: the bot).
func (m *Mirror) writeCommit(op string, tree plumbing.Hash, msg, author string, when time.Time, parents ...plumbing.Hash) (plumbing.Hash, error) {
	if when.IsZero() {
		when = time.Now()
	}
	author = strings.TrimSpace(author)
	if author == "" {
		author = m.cfg.BotName
	}
	c := &object.Commit{
		Author:       object.Signature{Name: sanitizeIdent(author), Email: m.cfg.AuthorEmail, When: when},
		Committer:    object.Signature{Name: m.cfg.BotName, Email: m.cfg.BotEmail, When: when},
		Message:      normalizeMessage(msg),
		TreeHash:     tree,
		ParentHashes: parents,
	}
	obj := m.st.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, workflow.Wrap(op, workflow.Internal, "", err)
	}
	h, err := m.st.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, workflow.Wrap(op, workflow.Internal, "", fmt.Errorf("write the commit: %w", err))
	}
	return h, nil
}

// CommitTree writes a commit whose only parent is req.Parent and whose tree
// is req.TreeOf's, which must be an ancestor of Parent (a rollback to an
// earlier commit of the branch). Nothing is pushed.
func (m *Mirror) CommitTree(ctx context.Context, req workflow.CommitRequest) (string, error) {
	const op = "git.commit_tree"
	parent, err := parseSHA(op, "parent", req.Parent)
	if err != nil {
		return "", err
	}
	to, err := parseSHA(op, "tree_of", req.TreeOf)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(req.Message) == "" {
		return "", workflow.Errorf(op, workflow.Invalid, "a commit needs a message")
	}
	done, err := m.begin(op)
	if err != nil {
		return "", err
	}
	defer done()
	for _, h := range []plumbing.Hash{parent, to} {
		if err := m.haveCommit(op, h); err != nil {
			return "", err
		}
	}
	if err := m.syncGrafts(ctx); err != nil {
		return "", m.localError(op, err)
	}
	if ok, err := m.merger.IsAncestor(ctx, to, parent); err != nil {
		return "", m.localError(op, err)
	} else if !ok {
		return "", workflow.Errorf(op, workflow.Invalid, "%s is not in %s's history", workflow.ShortSHA(to.String()), workflow.ShortSHA(parent.String()))
	}
	c, err := object.GetCommit(m.objects(), to)
	if err != nil {
		return "", m.localError(op, fmt.Errorf("read %s: %w", to, err))
	}
	h, err := m.writeCommit(op, c.TreeHash, req.Message, req.Author, req.When, parent)
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

// haveCommit returns a NotFound error when h is not a commit of the mirror.
func (m *Mirror) haveCommit(op string, h plumbing.Hash) error {
	_, err := object.GetCommit(m.objects(), h)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, plumbing.ErrObjectNotFound):
		return workflow.Errorf(op, workflow.NotFound, "commit %s is not in the mirror: fetch first", h)
	}
	return workflow.Wrap(op, workflow.Internal, "", err)
}

// sanitizeIdent keeps a commit identity's name to what git accepts: no
// angle brackets, no line breaks.
func sanitizeIdent(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '<' || r == '>':
			return -1
		case r < 0x20 || r == 0x7f:
			return ' '
		}
		return r
	}, s)
}

// normalizeMessage ends the message with exactly one newline, as git does,
// and leaves the rest (trailers included) untouched.
func normalizeMessage(s string) string {
	return strings.TrimRight(s, "\n") + "\n"
}

// conflicts turns the engine's conflicts into the workflow's, reading each
// hunk's lines from the conflicted file the engine wrote into the result
// tree.
func (m *Mirror) conflicts(res *merge.Result) ([]workflow.FileConflict, error) {
	tree, err := object.GetTree(m.objects(), res.Tree)
	if err != nil {
		return nil, fmt.Errorf("read the merged tree: %w", err)
	}
	out := make([]workflow.FileConflict, 0, len(res.Conflicts))
	for _, c := range res.Conflicts {
		fc := workflow.FileConflict{Path: c.Path, Kind: string(c.Kind)}
		if len(c.Hunks) > 0 {
			lines, err := blobLines(tree, c.Path)
			if err != nil {
				return nil, fmt.Errorf("read the conflicted %s: %w", c.Path, err)
			}
			for _, h := range c.Hunks {
				fc.Hunks = append(fc.Hunks, hunk(lines, h))
			}
		}
		out = append(out, fc)
	}
	return out, nil
}

// hunk reads one hunk from the lines of the conflicted file. The marker
// block at h.Result is "<<<<<<<", the ours lines, optionally a "|||||||"
// base section, "=======", the theirs lines, ">>>>>>>".
func hunk(lines []string, h merge.Hunk) workflow.ConflictHunk {
	ch := workflow.ConflictHunk{
		OursStart: h.Ours.Start, OursLines: h.Ours.Count,
		TheirsStart: h.Theirs.Start, TheirsLines: h.Theirs.Count,
	}
	start, end := h.Result.Start-1, h.Result.Start-1+h.Result.Count // the block, markers included
	if start < 0 || end > len(lines) || end-start < 3+h.Ours.Count+h.Theirs.Count {
		return ch // the engine and the file disagree: report the ranges only
	}
	block := lines[start:end]
	ch.Ours = capLines(block[1 : 1+h.Ours.Count])
	ch.Theirs = capLines(block[len(block)-1-h.Theirs.Count : len(block)-1])
	return ch
}

func capLines(l []string) []string {
	if len(l) > maxHunkLines {
		l = append(l[:maxHunkLines:maxHunkLines], fmt.Sprintf("... (%d more lines)", len(l)-maxHunkLines))
	}
	return append([]string(nil), l...)
}

// maxBlobRead bounds the bytes read from one conflicted file.
const maxBlobRead = 8 << 20

// blobLines returns the lines of the file at path in tree, without their
// line ends.
func blobLines(tree *object.Tree, path string) ([]string, error) {
	f, err := tree.File(path)
	if err != nil {
		return nil, err
	}
	r, err := f.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxBlobRead))
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines, nil
}
