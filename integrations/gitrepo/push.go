package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/code-releaser/code-releaser/workflow"
)

// packWindow is the delta window used when packing the objects to push.
const packWindow = 10

// Push moves branch on the remote from old ("" = must not exist) to new, as a
// compare-and-swap: the update is sent with old as the expected value, so
// the server refuses it if the branch moved, even between our look and our
// update. A remote already at new is a success (a retried push). A lost race
// returns a Busy error wrapping workflow.ErrRefMoved and changes nothing. On
// success the mirror's branch is set to new.
//
// Only the objects the remote lacks are sent: the walk from new stops at the
// commits the remote's branches reach, and trees are compared with the
// parents' so that unchanged subtrees are skipped (go-git's own Push walks
// every object reachable from every remote branch).
func (m *Mirror) Push(ctx context.Context, branch, old, new string) error {
	const op = "git.push"
	if err := validBranch(op, branch); err != nil {
		return err
	}
	newH, err := parseSHA(op, "new", new)
	if err != nil {
		return err
	}
	oldH := plumbing.ZeroHash
	if old != "" {
		if oldH, err = parseSHA(op, "old", old); err != nil {
			return err
		}
	}
	done, err := m.begin(op)
	if err != nil {
		return err
	}
	defer done()
	if err := m.haveCommit(op, newH); err != nil {
		return err
	}
	name := plumbing.NewBranchReferenceName(branch)

	ep, err := transport.NewEndpoint(m.url)
	if err != nil {
		return m.remoteError(op, branch, err)
	}
	cli, err := client.NewClient(ep)
	if err != nil {
		return m.remoteError(op, branch, err)
	}
	sess, err := cli.NewReceivePackSession(ep, m.auth)
	if err != nil {
		return m.remoteError(op, branch, err)
	}
	defer sess.Close()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return m.remoteError(op, branch, err)
	}
	remoteRefs, err := ar.AllReferences()
	if err != nil {
		return m.remoteError(op, branch, err)
	}
	current := plumbing.ZeroHash
	if r, err := remoteRefs.Reference(name); err == nil {
		current = r.Hash()
	}
	switch {
	case current == newH:
		// Already there (a retry of a push whose answer was lost).
		return m.setBranch(op, name, newH)
	case current != oldH:
		return m.remoteError(op, branch, fmt.Errorf("remote ref %s required to be %s but is %s", name, describe(oldH), describe(current)))
	}

	var tips []plumbing.Hash
	iter, err := remoteRefs.IterReferences()
	if err != nil {
		return workflow.Wrap(op, workflow.Internal, "", err)
	}
	_ = iter.ForEach(func(r *plumbing.Reference) error {
		if r.Type() == plumbing.HashReference && !r.Hash().IsZero() {
			tips = append(tips, r.Hash())
		}
		return nil
	})
	objects, err := m.missingObjects(ctx, newH, tips)
	if err != nil {
		return m.localError(op, fmt.Errorf("list the objects to push: %w", err))
	}

	req := packp.NewReferenceUpdateRequestFromCapabilities(ar.Capabilities)
	req.Commands = []*packp.Command{{Name: name, Old: oldH, New: newH}}
	rs, err := m.sendPack(ctx, sess, req, objects, !ar.Capabilities.Supports(capability.OFSDelta))
	if err == nil && rs != nil {
		if err := rs.Error(); err != nil {
			// The server answered: it refused the update.
			return m.remoteError(op, branch, err)
		}
	}
	if err != nil {
		return m.settle(ctx, op, branch, oldH, newH, err)
	}
	m.log.DebugContext(ctx, "git push", slog.String("branch", branch), slog.String("old", describe(oldH)),
		slog.String("new", newH.String()), slog.Int("objects", len(objects)))
	return m.setBranch(op, name, newH)
}

// settleTimeout bounds the look at the remote after a push without an
// answer.
const settleTimeout = 30 * time.Second

// settle decides the outcome of a push that ended in pushErr without the
// server's answer (a dropped connection, a timeout, a cancelled context):
// the remote may have applied it. Unless pushErr is a clean refusal, it
// reads branch on the remote again: at new, the push landed and it is a
// success; at old, nothing was pushed; anywhere else, someone else moved
// it (ErrRefMoved). When the remote cannot be read either, the outcome is
// unknown and the error says so.
func (m *Mirror) settle(ctx context.Context, op, branch string, oldH, newH plumbing.Hash, pushErr error) error {
	if werr := m.remoteError(op, branch, pushErr); workflow.KindOf(werr) == workflow.Busy || workflow.KindOf(werr) == workflow.Forbidden {
		return werr
	}
	name := plumbing.NewBranchReferenceName(branch)
	// The push's context may be what ended it; the look must still happen.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	cur, err := m.remoteRef(lctx, name)
	if err != nil {
		cause := m.redact.error(errors.Join(pushErr, err))
		return workflow.Wrap(op, workflow.Unavailable, fmt.Sprintf(
			"the push of %s got no answer and the remote could not be read again, so it may or may not hold %s: check %s on the remote before releasing again",
			branch, describe(newH), branch), cause)
	}
	switch cur {
	case newH:
		m.log.WarnContext(ctx, "git push: the answer was lost but the push landed", slog.String("branch", branch),
			slog.String("new", newH.String()), slog.Any("err", m.redact.error(pushErr)))
		return m.setBranch(op, name, newH)
	case oldH:
		return workflow.Wrap(op, workflow.Unavailable, fmt.Sprintf(
			"the push of %s failed and nothing was pushed (%s is still at %s): try again", branch, branch, describe(oldH)),
			m.redact.error(pushErr))
	}
	return m.remoteError(op, branch, fmt.Errorf("remote ref %s required to be %s but is %s (after a push without an answer: %w)",
		name, describe(oldH), describe(cur), pushErr))
}

// remoteRef reads one ref of the remote from its advertisement (as git
// ls-remote does), without fetching; the zero hash when it is absent.
func (m *Mirror) remoteRef(ctx context.Context, name plumbing.ReferenceName) (plumbing.Hash, error) {
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: remoteName, URLs: []string{m.url}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: m.auth})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	for _, r := range refs {
		if r.Name() == name && r.Type() == plumbing.HashReference {
			return r.Hash(), nil
		}
	}
	return plumbing.ZeroHash, nil
}

// describe names a commit for a message; the zero hash is "absent".
func describe(h plumbing.Hash) string {
	if h.IsZero() {
		return "absent"
	}
	return h.String()
}

func (m *Mirror) setBranch(op string, name plumbing.ReferenceName, h plumbing.Hash) error {
	if err := m.st.SetReference(plumbing.NewHashReference(name, h)); err != nil {
		return workflow.Wrap(op, workflow.Internal, "the push succeeded but the mirror's branch was not updated", err)
	}
	m.markGraftsStale()
	return nil
}

// sendPack streams a pack of objects along with the update request.
func (m *Mirror) sendPack(ctx context.Context, sess transport.ReceivePackSession, req *packp.ReferenceUpdateRequest, objects []plumbing.Hash, refDeltas bool) (*packp.ReportStatus, error) {
	rd, wr := io.Pipe()
	req.Packfile = rd
	encoded := make(chan error, 1)
	go func() {
		_, err := packfile.NewEncoder(wr, m.objects(), refDeltas).Encode(objects, packWindow)
		if err != nil {
			encoded <- wr.CloseWithError(err)
			return
		}
		encoded <- wr.Close()
	}()
	rs, err := sess.ReceivePack(ctx, req)
	if err != nil {
		rd.CloseWithError(err) // unblocks the encoder
		<-encoded
		return nil, err
	}
	if err := <-encoded; err != nil {
		return nil, err
	}
	return rs, nil
}

// missingObjects lists the objects reachable from tip that the remote, whose
// branches point at remoteTips, does not have: the commits from tip down to
// where the remote's history starts (as git rev-list tip --not remoteTips),
// and in each of their trees the entries that differ from the same path in
// all of the commit's parents.
func (m *Mirror) missingObjects(ctx context.Context, tip plumbing.Hash, remoteTips []plumbing.Hash) ([]plumbing.Hash, error) {
	commits, err := m.revList(ctx, []plumbing.Hash{tip}, remoteTips)
	if err != nil {
		return nil, err
	}
	seen := map[plumbing.Hash]bool{}
	var out []plumbing.Hash
	var addTree func(t *object.Tree, parents []*object.Tree) error
	addTree = func(t *object.Tree, parents []*object.Tree) error {
		for _, p := range parents {
			if p.Hash == t.Hash {
				return nil
			}
		}
		if seen[t.Hash] {
			return nil
		}
		seen[t.Hash] = true
		out = append(out, t.Hash)
	entries:
		for _, e := range t.Entries {
			var sub []*object.Tree
			for _, p := range parents {
				pe, err := p.FindEntry(e.Name)
				if err != nil {
					continue
				}
				if pe.Hash == e.Hash {
					continue entries
				}
				if pe.Mode == filemode.Dir && e.Mode == filemode.Dir {
					st, err := object.GetTree(m.objects(), pe.Hash)
					if err != nil {
						return err
					}
					sub = append(sub, st)
				}
			}
			switch {
			case e.Mode == filemode.Submodule || seen[e.Hash]:
			case e.Mode == filemode.Dir:
				st, err := object.GetTree(m.objects(), e.Hash)
				if err != nil {
					return err
				}
				if err := addTree(st, sub); err != nil {
					return err
				}
			default:
				seen[e.Hash] = true
				out = append(out, e.Hash)
			}
		}
		return nil
	}
	for i, c := range commits {
		if i%64 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		out = append(out, c.Hash)
		tree, err := c.Tree()
		if err != nil {
			return nil, err
		}
		var parents []*object.Tree
		for _, ph := range c.ParentHashes {
			p, err := object.GetCommit(m.objects(), ph)
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			pt, err := p.Tree()
			if err != nil {
				return nil, err
			}
			parents = append(parents, pt)
		}
		if err := addTree(tree, parents); err != nil {
			return nil, err
		}
	}
	return out, nil
}
