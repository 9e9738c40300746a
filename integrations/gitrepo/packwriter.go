package gitrepo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/merge"
)

// PackfileWriter is where go-git's fetch writes the pack it receives. The
// pack goes to a temporary file in objects/pack and is indexed on Close by
// the merge engine's indexer (merge.IndexPack), not by go-git's, which
// inflates every object twice with compress/flate: most of an initial
// mirror's time on a big repository. A thin pack (deltas against objects
// outside it) goes to go-git's own writer as before; go-git does not ask
// servers for thin packs.
func (s fetchStorage) PackfileWriter() (io.WriteCloser, error) {
	if err := os.MkdirAll(s.packDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(s.packDir, "tmp_cr_pack_")
	if err != nil {
		return nil, err
	}
	return &packWriter{s: s, f: f}, nil
}

// ownIndexMinPack is the smallest pack the merge engine indexes (the
// default of Mirror.ownIndexMin): all of them. go-git's writer would first
// load every index it has not loaded (it adds the new one to them): on a
// repository the size of git.git, decoding and hashing a 12 MiB index
// (30 ms, 14 MiB) for a fetch of one commit. The mirror reads objects
// through the merge engine's pack reader, so go-git's indexes are
// otherwise never loaded.
const ownIndexMinPack = 0

type packWriter struct {
	s fetchStorage
	f *os.File
}

func (w *packWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

func (w *packWriter) Close() (err error) {
	tmp := w.f.Name()
	defer func() {
		os.Remove(tmp)
		os.Remove(tmp + ".idx")
		if err != nil {
			err = fmt.Errorf("store the fetched pack: %w", err)
		}
	}()
	if err := w.f.Close(); err != nil {
		return err
	}
	st, err := os.Stat(tmp)
	if err != nil || st.Size() <= 32 {
		return err // nothing, or a pack of no object: nothing to keep
	}
	if st.Size() < w.s.ownIndexMin {
		return w.toGoGit(tmp)
	}
	sum, err := merge.IndexPack(tmp, tmp+".idx")
	if errors.Is(err, merge.ErrThinPack) {
		return w.toGoGit(tmp)
	}
	if err != nil {
		return err
	}
	base := filepath.Join(w.s.packDir, "pack-"+sum.String())
	if err := os.Chmod(tmp, 0o444); err != nil {
		return err
	}
	// the pack first: readers find packs by their index
	if err := os.Rename(tmp, base+".pack"); err != nil {
		return err
	}
	if err := os.Rename(tmp+".idx", base+".idx"); err != nil {
		return err
	}
	// go-git keeps a list of the packs (the storage has exclusive access)
	// that it refreshes only when it writes or deletes a pack: have it
	// forget the list by asking it to delete a pack that cannot exist (the
	// zero hash names none), then read the indexes again when it next
	// needs them. Its own pack writer would do it too, but loads every
	// index first.
	noPack := plumbing.ZeroHash
	if err := w.s.Storage.DeleteOldObjectPackAndIndex(noPack, time.Unix(1, 0)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("refresh go-git's list of packs: %w", err)
	}
	w.s.Storage.Reindex()
	return nil
}

// toGoGit gives the pack in file to go-git's own pack writer.
func (w *packWriter) toGoGit(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	pw, err := w.s.Storage.PackfileWriter()
	if err != nil {
		return err
	}
	if _, err := io.Copy(pw, f); err != nil {
		pw.Close()
		return err
	}
	return pw.Close()
}
