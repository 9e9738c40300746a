package merge

// A reader of a repository's pack files for the merge engine, so that the
// first merge in a new process costs what git's does. go-git's filesystem
// storage, on the first read from a pack, decodes the whole pack index into
// maps and, on the first delta, builds a map from every offset to its hash
// (on a pack of 440,000 objects: about 100 ms and tens of MiB before the
// first object); it also reads objects through small unbuffered reads and
// hashes each tree it decodes again. This reader maps the .idx and .pack
// files into memory (the OS pages in only what is read), looks objects up by
// binary search in the index as git does, inflates with a pooled zlib
// reader, resolves deltas through a small cache of bases keyed by offset,
// and returns objects with their known hash. Everything else (loose
// objects, writes, alternates) goes to the repository's own storer.

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// NewOnDisk returns a Merger for a repository on disk whose objects are in
// objectsDir (its "objects" directory; s is its storer, which the merges
// write into). Packed objects are read by this package's pack reader, and
// git's commit-graph is used when s is go-git's filesystem storage of a
// repository that has one. The packs are those present now: make a new
// Merger after a fetch. Close releases the mapped files.
func NewOnDisk(s storer.EncodedObjectStorer, objectsDir string) (*Merger, error) {
	ps, err := openPackedStore(s, objectsDir)
	if err != nil {
		return nil, err
	}
	g := newCommitGraph(ps)
	g.file = openGraphFile(s)
	return &Merger{store: ps, graph: g}, nil
}

// Storer returns the storer the Merger reads and writes objects through.
func (m *Merger) Storer() storer.EncodedObjectStorer { return m.store }

// Close releases the files a Merger made by NewOnDisk maps; it must not be
// used after. It does nothing for one made by New.
func (m *Merger) Close() error {
	if ps, ok := m.store.(*packedStore); ok {
		return ps.close()
	}
	return nil
}

// packedStore is a storer whose reads look in the packs first.
type packedStore struct {
	storer.EncodedObjectStorer
	objectsDir string
	alternates bool // objects/info/alternates exists: missing objects may be elsewhere
	packs      []*packFile

	zpool sync.Pool // zlib readers

	cacheMu   sync.Mutex
	cache     map[cacheKey]*cachedBase
	cacheSize int
	cacheTick uint64
}

type cacheKey struct {
	pack *packFile
	off  uint64
}

type cachedBase struct {
	typ  plumbing.ObjectType
	data []byte
	used uint64
}

const (
	deltaBaseCacheBytes = 24 << 20
	deltaBaseMaxObject  = 4 << 20
)

func openPackedStore(s storer.EncodedObjectStorer, objectsDir string) (*packedStore, error) {
	ps := &packedStore{EncodedObjectStorer: s, objectsDir: objectsDir, cache: map[cacheKey]*cachedBase{}}
	if _, err := os.Stat(filepath.Join(objectsDir, "info", "alternates")); err == nil {
		ps.alternates = true
	}
	idxs, err := filepath.Glob(filepath.Join(objectsDir, "pack", "pack-*.idx"))
	if err != nil {
		return nil, err
	}
	sort.Strings(idxs)
	for _, idx := range idxs {
		p, err := openPackFile(idx, strings.TrimSuffix(idx, ".idx")+".pack")
		if errors.Is(err, os.ErrNotExist) {
			continue // an index being written, or a pack being removed
		}
		if err != nil {
			ps.close()
			return nil, err
		}
		ps.packs = append(ps.packs, p)
	}
	return ps, nil
}

func (ps *packedStore) close() error {
	var first error
	for _, p := range ps.packs {
		if err := p.close(); err != nil && first == nil {
			first = err
		}
	}
	ps.packs = nil
	return first
}

func (ps *packedStore) find(h plumbing.Hash) (*packFile, uint64, bool) {
	for _, p := range ps.packs {
		if off, ok := p.find(h); ok {
			return p, off, true
		}
	}
	return nil, 0, false
}

// EncodedObject reads h from the packs, else from the repository's storer.
func (ps *packedStore) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	p, off, ok := ps.find(h)
	if !ok {
		return ps.EncodedObjectStorer.EncodedObject(t, h)
	}
	typ, data, err := ps.read(p, off, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", h, filepath.Base(p.packPath), err)
	}
	if t != plumbing.AnyObject && t != typ {
		return nil, plumbing.ErrObjectNotFound
	}
	return &packedObject{h: h, t: typ, data: data}, nil
}

// HasEncodedObject looks in the packs, then for a loose object, without
// loading go-git's pack indexes.
func (ps *packedStore) HasEncodedObject(h plumbing.Hash) error {
	if _, _, ok := ps.find(h); ok {
		return nil
	}
	if ps.alternates {
		return ps.EncodedObjectStorer.HasEncodedObject(h)
	}
	hex := h.String()
	if _, err := os.Stat(filepath.Join(ps.objectsDir, hex[:2], hex[2:])); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return plumbing.ErrObjectNotFound
}

// EncodedObjectSize reads the size of h without inflating a whole non-delta object.
func (ps *packedStore) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	p, off, ok := ps.find(h)
	if !ok {
		return ps.EncodedObjectStorer.EncodedObjectSize(h)
	}
	typ, size, _, err := p.header(off)
	if err != nil {
		return 0, err
	}
	if typ != plumbing.OFSDeltaObject && typ != plumbing.REFDeltaObject {
		return int64(size), nil
	}
	_, data, err := ps.read(p, off, 0)
	return int64(len(data)), err
}

// read returns the type and content of the object at off in p.
func (ps *packedStore) read(p *packFile, off uint64, depth int) (plumbing.ObjectType, []byte, error) {
	if depth > 10000 {
		return 0, nil, errors.New("delta chain too long")
	}
	typ, size, dataOff, err := p.header(off)
	if err != nil {
		return 0, nil, err
	}
	switch typ {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
		data, err := ps.inflate(p, dataOff, size)
		return typ, data, err
	case plumbing.OFSDeltaObject, plumbing.REFDeltaObject:
	default:
		return 0, nil, fmt.Errorf("object at offset %d has type %d", off, typ)
	}
	var baseType plumbing.ObjectType
	var base []byte
	if typ == plumbing.OFSDeltaObject {
		rel, n, err := p.ofsDeltaOffset(dataOff)
		if err != nil {
			return 0, nil, err
		}
		if rel == 0 || rel > off {
			return 0, nil, fmt.Errorf("delta at offset %d has a bad base offset", off)
		}
		dataOff += n
		baseType, base, err = ps.base(p, off-rel, depth)
		if err != nil {
			return 0, nil, err
		}
	} else {
		if dataOff+20 > uint64(len(p.pack)) {
			return 0, nil, io.ErrUnexpectedEOF
		}
		var bh plumbing.Hash
		copy(bh[:], p.pack[dataOff:dataOff+20])
		dataOff += 20
		bp, boff, ok := ps.find(bh)
		if !ok {
			obj, err := ps.EncodedObjectStorer.EncodedObject(plumbing.AnyObject, bh)
			if err != nil {
				return 0, nil, fmt.Errorf("delta base %s: %w", bh, err)
			}
			r, err := obj.Reader()
			if err != nil {
				return 0, nil, err
			}
			base, err = io.ReadAll(r)
			r.Close()
			if err != nil {
				return 0, nil, err
			}
			baseType = obj.Type()
		} else if baseType, base, err = ps.base(bp, boff, depth); err != nil {
			return 0, nil, err
		}
	}
	delta, err := ps.inflate(p, dataOff, size)
	if err != nil {
		return 0, nil, err
	}
	out, err := applyDelta(base, delta)
	if err != nil {
		return 0, nil, fmt.Errorf("delta at offset %d: %w", off, err)
	}
	return baseType, out, nil
}

// base reads a delta base through the cache (bases are shared by the
// objects of a delta chain: without it a chain of n deltas costs n²).
func (ps *packedStore) base(p *packFile, off uint64, depth int) (plumbing.ObjectType, []byte, error) {
	k := cacheKey{p, off}
	ps.cacheMu.Lock()
	if c := ps.cache[k]; c != nil {
		ps.cacheTick++
		c.used = ps.cacheTick
		ps.cacheMu.Unlock()
		return c.typ, c.data, nil
	}
	ps.cacheMu.Unlock()
	typ, data, err := ps.read(p, off, depth+1)
	if err != nil || len(data) > deltaBaseMaxObject {
		return typ, data, err
	}
	ps.cacheMu.Lock()
	defer ps.cacheMu.Unlock()
	if ps.cache[k] == nil {
		for ps.cacheSize+len(data) > deltaBaseCacheBytes && len(ps.cache) > 0 {
			ps.evictOldest()
		}
		ps.cacheTick++
		ps.cache[k] = &cachedBase{typ: typ, data: data, used: ps.cacheTick}
		ps.cacheSize += len(data)
	}
	return typ, data, nil
}

// evictOldest drops about the least recently used quarter of the cache.
func (ps *packedStore) evictOldest() {
	ticks := make([]uint64, 0, len(ps.cache))
	for _, c := range ps.cache {
		ticks = append(ticks, c.used)
	}
	sort.Slice(ticks, func(i, j int) bool { return ticks[i] < ticks[j] })
	cut := ticks[len(ticks)/4]
	for k, c := range ps.cache {
		if c.used <= cut {
			ps.cacheSize -= len(c.data)
			delete(ps.cache, k)
		}
	}
}

// inflate decompresses size bytes of zlib data starting at off.
func (ps *packedStore) inflate(p *packFile, off, size uint64) ([]byte, error) {
	if off > uint64(len(p.pack)) || size > 1<<40 {
		return nil, io.ErrUnexpectedEOF
	}
	src := bytes.NewReader(p.pack[off:])
	var z io.ReadCloser
	if v := ps.zpool.Get(); v != nil {
		z = v.(io.ReadCloser)
		if err := z.(zlib.Resetter).Reset(src, nil); err != nil {
			return nil, err
		}
	} else {
		var err error
		if z, err = zlib.NewReader(src); err != nil {
			return nil, err
		}
	}
	defer ps.zpool.Put(z)
	out := make([]byte, size)
	if _, err := io.ReadFull(z, out); err != nil {
		return nil, fmt.Errorf("inflate at offset %d: %w", off, err)
	}
	return out, nil
}

// applyDelta applies a git delta to base.
func applyDelta(base, delta []byte) ([]byte, error) {
	srcSize, n := deltaVarint(delta)
	if n == 0 || srcSize != uint64(len(base)) {
		return nil, errors.New("delta base size mismatch")
	}
	delta = delta[n:]
	dstSize, n := deltaVarint(delta)
	if n == 0 || dstSize > 1<<40 {
		return nil, errors.New("bad delta target size")
	}
	delta = delta[n:]
	out := make([]byte, 0, dstSize)
	for len(delta) > 0 {
		cmd := delta[0]
		delta = delta[1:]
		switch {
		case cmd&0x80 != 0:
			var off, sz uint64
			for i := uint(0); i < 4; i++ {
				if cmd&(1<<i) != 0 {
					if len(delta) == 0 {
						return nil, io.ErrUnexpectedEOF
					}
					off |= uint64(delta[0]) << (8 * i)
					delta = delta[1:]
				}
			}
			for i := uint(0); i < 3; i++ {
				if cmd&(0x10<<i) != 0 {
					if len(delta) == 0 {
						return nil, io.ErrUnexpectedEOF
					}
					sz |= uint64(delta[0]) << (8 * i)
					delta = delta[1:]
				}
			}
			if sz == 0 {
				sz = 0x10000
			}
			if off+sz > uint64(len(base)) || off+sz < off {
				return nil, errors.New("delta copies out of the base")
			}
			out = append(out, base[off:off+sz]...)
		case cmd != 0:
			if int(cmd) > len(delta) {
				return nil, io.ErrUnexpectedEOF
			}
			out = append(out, delta[:cmd]...)
			delta = delta[cmd:]
		default:
			return nil, errors.New("delta has a reserved instruction")
		}
	}
	if uint64(len(out)) != dstSize {
		return nil, errors.New("delta result size mismatch")
	}
	return out, nil
}

func deltaVarint(b []byte) (uint64, int) {
	var v uint64
	for i, shift := 0, uint(0); i < len(b) && shift < 64; i, shift = i+1, shift+7 {
		v |= uint64(b[i]&0x7f) << shift
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// packedObject is an object read from a pack: its hash is known.
type packedObject struct {
	h    plumbing.Hash
	t    plumbing.ObjectType
	data []byte
}

func (o *packedObject) Hash() plumbing.Hash           { return o.h }
func (o *packedObject) Type() plumbing.ObjectType     { return o.t }
func (o *packedObject) SetType(t plumbing.ObjectType) { o.t = t }
func (o *packedObject) Size() int64                   { return int64(len(o.data)) }
func (o *packedObject) SetSize(int64)                 {}
func (o *packedObject) Reader() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(o.data)), nil
}
func (o *packedObject) Writer() (io.WriteCloser, error) {
	return nil, errors.New("a packed object is read-only")
}

// packFile is one mapped .idx and .pack.
type packFile struct {
	packPath  string
	idx, pack []byte
	unmap     []func() error
	n         uint32
	names     []byte
	offsets   []byte
	large     []byte
}

func openPackFile(idxPath, packPath string) (*packFile, error) {
	p := &packFile{packPath: packPath}
	var err error
	if p.idx, err = p.mapFile(idxPath); err != nil {
		return nil, err
	}
	if p.pack, err = p.mapFile(packPath); err != nil {
		p.close()
		return nil, err
	}
	if err := p.parseIndex(); err != nil {
		p.close()
		return nil, fmt.Errorf("%s: %w", idxPath, err)
	}
	if len(p.pack) < 12 || string(p.pack[:4]) != "PACK" {
		p.close()
		return nil, fmt.Errorf("%s: not a pack file", packPath)
	}
	return p, nil
}

func (p *packFile) mapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, unmap, err := mapReadOnly(f)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", path, err)
	}
	p.unmap = append(p.unmap, unmap)
	return b, nil
}

func (p *packFile) close() error {
	var first error
	for _, u := range p.unmap {
		if err := u(); err != nil && first == nil {
			first = err
		}
	}
	p.unmap, p.idx, p.pack = nil, nil, nil
	return first
}

// parseIndex slices a version 2 pack index.
func (p *packFile) parseIndex() error {
	b := p.idx
	if len(b) < 8+256*4 || !bytes.Equal(b[:4], []byte{0xff, 't', 'O', 'c'}) || binary.BigEndian.Uint32(b[4:]) != 2 {
		return errors.New("not a version 2 pack index")
	}
	p.n = binary.BigEndian.Uint32(b[8+255*4:])
	n := uint64(p.n)
	namesAt := uint64(8 + 256*4)
	offsetsAt := namesAt + 20*n + 4*n
	largeAt := offsetsAt + 4*n
	if uint64(len(b)) < largeAt+40 {
		return errors.New("truncated pack index")
	}
	p.names = b[namesAt : namesAt+20*n]
	p.offsets = b[offsetsAt:largeAt]
	p.large = b[largeAt : uint64(len(b))-40]
	return nil
}

// find returns the pack offset of h.
func (p *packFile) find(h plumbing.Hash) (uint64, bool) {
	fan := p.idx[8:]
	lo := uint32(0)
	if h[0] > 0 {
		lo = binary.BigEndian.Uint32(fan[4*(int(h[0])-1):])
	}
	hi := binary.BigEndian.Uint32(fan[4*int(h[0]):])
	for lo < hi {
		mid := lo + (hi-lo)/2
		switch c := bytes.Compare(h[:], p.names[20*uint64(mid):20*uint64(mid)+20]); {
		case c == 0:
			off := binary.BigEndian.Uint32(p.offsets[4*uint64(mid):])
			if off&0x80000000 == 0 {
				return uint64(off), true
			}
			k := uint64(off &^ 0x80000000)
			if 8*k+8 > uint64(len(p.large)) {
				return 0, false
			}
			return binary.BigEndian.Uint64(p.large[8*k:]), true
		case c < 0:
			hi = mid
		default:
			lo = mid + 1
		}
	}
	return 0, false
}

// header reads the object header at off: type, (inflated) size, and where
// the data after the header starts.
func (p *packFile) header(off uint64) (plumbing.ObjectType, uint64, uint64, error) {
	if off < 12 || off >= uint64(len(p.pack)) {
		return 0, 0, 0, fmt.Errorf("offset %d out of the pack", off)
	}
	c := p.pack[off]
	typ := plumbing.ObjectType((c >> 4) & 7)
	size := uint64(c & 15)
	shift := uint(4)
	i := off + 1
	for c&0x80 != 0 {
		if i >= uint64(len(p.pack)) || shift > 60 {
			return 0, 0, 0, io.ErrUnexpectedEOF
		}
		c = p.pack[i]
		size |= uint64(c&0x7f) << shift
		shift += 7
		i++
	}
	return typ, size, i, nil
}

// ofsDeltaOffset reads an OFS_DELTA's distance back to its base.
func (p *packFile) ofsDeltaOffset(at uint64) (uint64, uint64, error) {
	if at >= uint64(len(p.pack)) {
		return 0, 0, io.ErrUnexpectedEOF
	}
	c := p.pack[at]
	v := uint64(c & 0x7f)
	n := uint64(1)
	for c&0x80 != 0 {
		if at+n >= uint64(len(p.pack)) || n > 9 {
			return 0, 0, io.ErrUnexpectedEOF
		}
		c = p.pack[at+n]
		v = ((v + 1) << 7) | uint64(c&0x7f)
		n++
	}
	return v, n, nil
}
