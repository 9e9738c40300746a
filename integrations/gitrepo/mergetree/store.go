package mergetree

// The repository's objects and refs as merge-tree needs them, read here
// rather than through go-git's filesystem storage: that package links
// go-git's config (gcfg, encoding/gob, its URL parser) and its object
// package (OpenPGP), whose initialisation was a third of the binary's
// start. The engine's pack reader (merge.NewOnDisk) reads the packs; this
// store is what it falls back on: loose objects, the object directories
// named in objects/info/alternates, and the loose objects a merge writes.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/merge"
)

// maxAlternateDepth is the deepest alternate whose own alternates are
// read, as git's limit: the repository's file is read at depth 0, so
// objects are found at most six directories down.
const maxAlternateDepth = 5

// objectDir is a git object directory's loose objects, and its
// alternates' objects (packed and loose). It implements go-git's
// EncodedObjectStorer, the interface the engine takes.
type objectDir struct {
	dir   string
	depth int
	seen  *seenDirs // the object directories of the whole chain, shared

	altOnce sync.Once
	alts    []*merge.Merger // each alternate directory, read through the engine's pack reader
	altErr  error
}

// seenDirs are the object directories a repository reads, its own and
// every alternate's: each is read once, as git links each once.
type seenDirs struct {
	mu   sync.Mutex
	dirs map[string]bool
	warn func(msg string) // says what is skipped; nil: nothing is said
}

// warnf says what is skipped, where there is someone to tell.
func (s *seenDirs) warnf(format string, args ...any) {
	if s.warn != nil {
		s.warn(fmt.Sprintf(format, args...))
	}
}

// add tells whether dir is new, and notes it.
func (s *seenDirs) add(dir string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirs[dir] {
		return false
	}
	s.dirs[dir] = true
	return true
}

// newObjectDir is the object directory of a repository.
func newObjectDir(dir string) *objectDir {
	dir = filepath.Clean(dir)
	return &objectDir{dir: dir, seen: &seenDirs{dirs: map[string]bool{dir: true}}}
}

var _ storer.EncodedObjectStorer = (*objectDir)(nil)

func (d *objectDir) loosePath(h plumbing.Hash) string {
	hex := h.String()
	return filepath.Join(d.dir, hex[:2], hex[2:])
}

// alternates opens, once, the object directories this one borrows from,
// as git links them: a path relative to this directory or absolute, each
// directory once (the repository's own and a cycle are skipped), one that
// does not exist skipped, and none more than six levels down (git warns
// of those and reads without them).
func (d *objectDir) alternates() ([]*merge.Merger, error) {
	d.altOnce.Do(func() {
		b, err := os.ReadFile(filepath.Join(d.dir, "info", "alternates"))
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if d.depth > maxAlternateDepth {
			d.seen.warnf("%s: ignoring alternate object stores, nesting too deep", d.dir)
			return
		}
		if err != nil {
			d.altErr = fmt.Errorf("read the alternates of %s: %w", d.dir, err)
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' {
				continue
			}
			if !filepath.IsAbs(line) {
				line = filepath.Join(d.dir, line) // relative to this object directory, as git reads it
			}
			dir := filepath.Clean(line)
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				d.seen.warnf("object directory %s does not exist; check %s", dir, filepath.Join(d.dir, "info", "alternates"))
				continue
			}
			if !d.seen.add(dir) {
				continue
			}
			alt := &objectDir{dir: dir, depth: d.depth + 1, seen: d.seen}
			m, err := merge.NewOnDisk(alt, alt.dir)
			if err != nil {
				d.altErr = fmt.Errorf("open the alternate object directory %s: %w", alt.dir, err)
				return
			}
			d.alts = append(d.alts, m)
		}
	})
	return d.alts, d.altErr
}

// Close releases the alternates' mapped packs.
func (d *objectDir) Close() error {
	var first error
	for _, m := range d.alts {
		if err := m.Close(); err != nil && first == nil {
			first = err
		}
	}
	d.alts = nil
	return first
}

// EncodedObject reads h: a loose object of this directory, else from an
// alternate. t other than AnyObject must be h's type.
func (d *objectDir) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, err := d.readLoose(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		obj, err = d.fromAlternates(h)
	}
	if err != nil {
		return nil, err
	}
	if t != plumbing.AnyObject && obj.Type() != t {
		return nil, plumbing.ErrObjectNotFound
	}
	return obj, nil
}

func (d *objectDir) fromAlternates(h plumbing.Hash) (plumbing.EncodedObject, error) {
	alts, err := d.alternates()
	if err != nil {
		return nil, err
	}
	for _, m := range alts {
		obj, err := m.Storer().EncodedObject(plumbing.AnyObject, h)
		if !errors.Is(err, plumbing.ErrObjectNotFound) {
			return obj, err
		}
	}
	return nil, plumbing.ErrObjectNotFound
}

// readLoose reads and checks the loose object h.
func (d *objectDir) readLoose(h plumbing.Hash) (plumbing.EncodedObject, error) {
	file, err := os.ReadFile(d.loosePath(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, plumbing.ErrObjectNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read object %s: %w", h, err)
	}
	typ, data, err := merge.ReadLooseObject(file)
	if err != nil {
		return nil, fmt.Errorf("read object %s: %w", h, err)
	}
	return merge.ReadObject(h, typ, data), nil
}

// HasEncodedObject tells whether h is here or in an alternate.
func (d *objectDir) HasEncodedObject(h plumbing.Hash) error {
	if _, err := os.Stat(d.loosePath(h)); err == nil {
		return nil
	}
	alts, err := d.alternates()
	if err != nil {
		return err
	}
	for _, m := range alts {
		if err := m.Storer().HasEncodedObject(h); err == nil {
			return nil
		}
	}
	return plumbing.ErrObjectNotFound
}

// EncodedObjectSize is the size of h's content.
func (d *objectDir) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	obj, err := d.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return 0, err
	}
	return obj.Size(), nil
}

// NewEncodedObject returns an object to fill and pass to SetEncodedObject.
func (d *objectDir) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

// SetEncodedObject writes obj as a loose object as git writes one with
// core.looseCompression=0 (a zlib stream of stored blocks, see
// storedZlib), to a temporary file in the object directory, made
// read-only, then linked into place (an object already there is left as
// it is).
func (d *objectDir) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	h := obj.Hash()
	path := d.loosePath(h)
	if _, err := os.Stat(path); err == nil {
		return h, nil
	}
	if err := d.writeLoose(obj, path); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write object %s: %w", h, err)
	}
	return h, nil
}

func (d *objectDir) writeLoose(obj plumbing.EncodedObject, path string) error {
	r, err := obj.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	content := append(fmt.Appendf(nil, "%s %d\x00", obj.Type(), len(data)), data...)
	tmp, err := os.CreateTemp(d.dir, "tmp_obj_")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone once linked into place, or on failure
	_, err = tmp.Write(storedZlib(content))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o444)
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		if rerr := os.Rename(tmp.Name(), path); rerr != nil { // no hard links on this filesystem
			return rerr
		}
	}
	return nil
}

// storedZlib is data as a zlib stream of stored (uncompressed) deflate
// blocks (RFC 1950, 1951): what git writes with core.looseCompression=0,
// and what every git reads. The objects merge-tree writes are a merge's
// trees and conflicted files, few and small; compressing them would link
// compress/flate, whose tables are built at every start of the binary.
func storedZlib(data []byte) []byte {
	const maxBlock = 65535
	sum := adler32.Checksum(data)
	out := make([]byte, 0, 2+len(data)+5*(len(data)/maxBlock+1)+4)
	out = append(out, 0x78, 0x01) // deflate, 32 KiB window, no dictionary, level "fastest"
	for first := true; first || len(data) > 0; first = false {
		n := min(len(data), maxBlock)
		final := byte(0)
		if n == len(data) {
			final = 1
		}
		out = append(out, final, byte(n), byte(n>>8), byte(^n), byte(^n>>8))
		out = append(out, data[:n]...)
		data = data[n:]
	}
	return binary.BigEndian.AppendUint32(out, sum)
}

// IterEncodedObjects is not needed by a merge.
func (d *objectDir) IterEncodedObjects(plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	return nil, errors.New("merge-tree does not list objects")
}

// AddAlternate is not needed by a merge.
func (d *objectDir) AddAlternate(string) error {
	return errors.New("merge-tree does not add alternates")
}
