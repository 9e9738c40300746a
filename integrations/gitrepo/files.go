package gitrepo

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"testing/fstest"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/code-releaser/code-releaser/workflow"
)

// maxTreeBytes bounds what Files reads into memory: an infra repo is
// templates, parameters and playbooks, not artefacts.
const maxTreeBytes = 256 << 20

// Files returns the files of commit sha as an in-memory, read-only file
// system (the deployer reads the deploy spec and templates from it and
// copies it out for command steps). Executable files keep their execute
// bits; symlinks and submodules are left out.
func (m *Mirror) Files(ctx context.Context, sha string) (fs.FS, error) {
	const op = "git.files"
	if !plumbing.IsHash(sha) {
		return nil, workflow.Errorf(op, workflow.Invalid, "%q is not a commit id", sha)
	}
	done, err := m.begin(op)
	if err != nil {
		return nil, err
	}
	defer done()
	h := plumbing.NewHash(sha)
	if err := m.haveCommit(op, h); err != nil {
		return nil, err
	}
	c, err := object.GetCommit(m.objects(), h)
	if err != nil {
		return nil, m.localError(op, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, m.localError(op, err)
	}
	out := fstest.MapFS{}
	total := 0
	iter := tree.Files()
	defer iter.Close()
	for {
		if err := ctx.Err(); err != nil {
			return nil, m.localError(op, err)
		}
		f, err := iter.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, m.localError(op, err)
		}
		if f.Mode == filemode.Symlink || f.Mode == filemode.Submodule {
			continue
		}
		total += int(f.Size)
		if total > maxTreeBytes {
			return nil, workflow.Errorf(op, workflow.Invalid, "commit %s holds more than %d MiB of files: too big to deploy from", sha[:7], maxTreeBytes>>20)
		}
		body, err := f.Contents()
		if err != nil {
			return nil, m.localError(op, err)
		}
		mode := fs.FileMode(0o644)
		if f.Mode == filemode.Executable {
			mode = 0o755
		}
		out[f.Name] = &fstest.MapFile{Data: []byte(body), Mode: mode}
	}
	return out, nil
}
