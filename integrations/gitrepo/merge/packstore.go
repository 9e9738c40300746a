package merge

// A reader of a repository's pack files for the merge engine, so that the
// first merge in a new process costs what git's does. go-git's filesystem
// storage, on the first read from a pack, decodes the whole pack index into
// maps and, on the first delta, builds a map from every offset to its hash
// (on a pack of 440,000 objects: about 100 ms and tens of MiB before the
// first object); it also reads objects through small unbuffered reads and
// hashes each tree it decodes again. This reader maps the .idx file into
// memory (the OS pages in only what the binary searches touch), looks
// objects up in it as git does, reads the .pack with buffered positioned
// reads (mapping it would count every page read around an object in the
// process's resident memory), inflates with its own zlib inflater (inflate.go), resolves
// deltas through a small cache of bases keyed by offset, and returns
// objects with their known hash. Everything else (loose
// objects, writes, alternates) goes to the repository's own storer.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
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
	g.file = openMappedGraphFile(objectsDir)
	return &Merger{store: ps, graph: g}, nil
}

// Storer returns the storer the Merger reads and writes objects through.
func (m *Merger) Storer() storer.EncodedObjectStorer { return m.store }

// Close releases the files a Merger made by NewOnDisk maps; it must not be
// used after. It does nothing for one made by New.
func (m *Merger) Close() error {
	var err error
	if ps, ok := m.store.(*packedStore); ok {
		err = ps.close()
	}
	if f := m.graph.file; f != nil {
		if cerr := f.close(); err == nil {
			err = cerr
		}
	}
	return err
}

// packedStore is a storer whose reads look in the packs first.
type packedStore struct {
	storer.EncodedObjectStorer
	objectsDir string
	alternates bool // objects/info/alternates exists: missing objects may be elsewhere
	packs      []*packFile

	zpool sync.Pool // *inflater
	spool sync.Pool // *packSource

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
	// maxObjectSize bounds what a (possibly corrupt) header can make the
	// reader allocate.
	maxObjectSize = 4 << 30
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

// EncodedObject reads h from the packs, else from the repository's storer
// when it may have it (see elsewhere).
func (ps *packedStore) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	p, off, ok := ps.find(h)
	if !ok {
		if !ps.elsewhere(h) {
			return nil, plumbing.ErrObjectNotFound
		}
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

// HasEncodedObject looks in the packs, then asks the repository's storer
// when it may have h (see elsewhere).
func (ps *packedStore) HasEncodedObject(h plumbing.Hash) error {
	if _, _, ok := ps.find(h); ok {
		return nil
	}
	if !ps.elsewhere(h) {
		return plumbing.ErrObjectNotFound
	}
	return ps.EncodedObjectStorer.HasEncodedObject(h)
}

// elsewhere tells whether the repository's storer may have h, which the
// packs opened here do not: when it is a loose object, when the repository
// borrows objects (alternates), or when a pack was added since the store
// was opened. Otherwise the storer is not asked: go-git's first look into
// its packs decodes and hashes every pack index whole (30 ms and 14 MiB
// for a 440,000-object pack), which a fetch paid for every new object it
// wanted, to learn that the mirror lacks it.
func (ps *packedStore) elsewhere(h plumbing.Hash) bool {
	if ps.alternates {
		return true
	}
	hex := h.String()
	if _, err := os.Stat(filepath.Join(ps.objectsDir, hex[:2], hex[2:])); !errors.Is(err, os.ErrNotExist) {
		return true // there, or unreadable: the storer says which
	}
	idxs, err := filepath.Glob(filepath.Join(ps.objectsDir, "pack", "pack-*.idx"))
	if err != nil || len(idxs) > len(ps.packs) {
		return true
	}
	for _, idx := range idxs {
		if !slices.ContainsFunc(ps.packs, func(p *packFile) bool { return p.idxPath == idx }) {
			return true
		}
	}
	return false
}

// EncodedObjectSize reads the size of h without inflating a whole non-delta object.
func (ps *packedStore) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	p, off, ok := ps.find(h)
	if !ok {
		if !ps.elsewhere(h) {
			return 0, plumbing.ErrObjectNotFound
		}
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

// readInto reads the object h from the packs, inflating it into buf when
// it is stored whole (as nearly every commit is) and buf is large enough,
// else into new memory; found is false when no pack has it. The merge-base
// walk without a commit-graph reads tens of thousands of commits this way
// and keeps none of them: none costs an allocation, nor a copy.
func (ps *packedStore) readInto(h plumbing.Hash, buf []byte) (typ plumbing.ObjectType, data []byte, found bool, err error) {
	p, off, ok := ps.find(h)
	if !ok {
		return 0, nil, false, nil
	}
	if off < 12 || off >= uint64(p.size) {
		return 0, nil, true, fmt.Errorf("read %s from %s: offset %d out of the pack", h, filepath.Base(p.packPath), off)
	}
	src := ps.source(p, off)
	typ, size, err := src.header()
	if err == nil && (typ == plumbing.OFSDeltaObject || typ == plumbing.REFDeltaObject) {
		ps.putSource(src)
		typ, data, err = ps.read(p, off, 0)
	} else if err == nil {
		if size <= uint64(cap(buf)) {
			data = buf[:size]
			err = ps.inflateInto(src, data)
		} else {
			data, err = ps.inflate(src, size)
		}
		ps.putSource(src)
	} else {
		ps.putSource(src)
	}
	if err != nil {
		return 0, nil, true, fmt.Errorf("read %s from %s: %w", h, filepath.Base(p.packPath), err)
	}
	return typ, data, true, nil
}

// read returns the type and content of the object at off in p. The
// object is read with one positioned read of a small window in most cases.
func (ps *packedStore) read(p *packFile, off uint64, depth int) (plumbing.ObjectType, []byte, error) {
	if depth > 10000 {
		return 0, nil, errors.New("delta chain too long")
	}
	if off < 12 || off >= uint64(p.size) {
		return 0, nil, fmt.Errorf("offset %d out of the pack", off)
	}
	src := ps.source(p, off)
	typ, size, err := src.header()
	if err != nil {
		ps.putSource(src)
		return 0, nil, fmt.Errorf("object at offset %d: %w", off, err)
	}
	var rel uint64
	var bh plumbing.Hash
	switch typ {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
		data, err := ps.inflate(src, size)
		ps.putSource(src)
		return typ, data, err
	case plumbing.OFSDeltaObject:
		rel, err = src.ofsDelta()
		if err == nil && (rel == 0 || rel > off) {
			err = errors.New("bad base offset")
		}
	case plumbing.REFDeltaObject:
		_, err = io.ReadFull(src, bh[:])
	default:
		err = fmt.Errorf("type %d", typ)
	}
	var delta []byte
	if err == nil {
		delta, err = ps.inflate(src, size)
	}
	ps.putSource(src)
	if err != nil {
		return 0, nil, fmt.Errorf("object at offset %d: %w", off, err)
	}
	var baseType plumbing.ObjectType
	var base []byte
	if typ == plumbing.OFSDeltaObject {
		if baseType, base, err = ps.base(p, off-rel, depth); err != nil {
			return 0, nil, err
		}
	} else if bp, boff, ok := ps.find(bh); ok {
		if baseType, base, err = ps.base(bp, boff, depth); err != nil {
			return 0, nil, err
		}
	} else {
		obj, err := ps.EncodedObjectStorer.EncodedObject(plumbing.AnyObject, bh)
		if err != nil {
			return 0, nil, fmt.Errorf("delta base %s: %w", bh, err)
		}
		if base, err = objectBytes(obj); err != nil {
			return 0, nil, fmt.Errorf("delta base %s: %w", bh, err)
		}
		baseType = obj.Type()
	}
	out, err := applyDelta(base, delta)
	if err != nil {
		return 0, nil, fmt.Errorf("delta at offset %d: %w", off, err)
	}
	return baseType, out, nil
}

// packSource reads a pack from an offset through a window: a slice of the
// mapped pack, or where it is not mapped a buffer filled by positioned
// reads. The object header, the delta base reference and the start of the
// compressed data usually come in the first one.
type packSource struct {
	p    *packFile
	buf  []byte // the window: own's memory or the mapped pack's (read-only)
	own  []byte // the buffer for positioned reads, kept across uses
	r, w int
	next int64 // the file offset after buf[:w]
}

const packWindow = 4 << 10

func (ps *packedStore) source(p *packFile, off uint64) *packSource {
	s, _ := ps.spool.Get().(*packSource)
	if s == nil {
		s = &packSource{}
	}
	s.p, s.r, s.w, s.next = p, 0, 0, int64(off)
	return s
}

func (ps *packedStore) putSource(s *packSource) {
	s.p, s.buf = nil, nil
	ps.spool.Put(s)
}

func (s *packSource) fill() error {
	if s.next >= s.p.size {
		return io.ErrUnexpectedEOF
	}
	want := packWindow
	if s.w > 0 {
		want = 64 << 10 // a large object: read on in bigger pieces
	}
	n := min(int64(want), s.p.size-s.next)
	if m := s.p.mapped; m != nil {
		s.buf = m[s.next : s.next+n]
		s.r, s.w = 0, int(n)
		s.next += n
		return nil
	}
	if cap(s.own) < want {
		s.own = make([]byte, want)
	}
	s.buf = s.own[:want]
	k, err := s.p.pack.ReadAt(s.buf[:n], s.next)
	if k == 0 {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	s.r, s.w = 0, k
	s.next += int64(k)
	return nil
}

// chunk returns what is left of the window, reading the next one first
// when nothing is.
func (s *packSource) chunk() ([]byte, error) {
	if s.r == s.w {
		if err := s.fill(); err != nil {
			return nil, err
		}
	}
	b := s.buf[s.r:s.w]
	s.r = s.w
	return b, nil
}

func (s *packSource) ReadByte() (byte, error) {
	if s.r == s.w {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	c := s.buf[s.r]
	s.r++
	return c, nil
}

func (s *packSource) Read(b []byte) (int, error) {
	if s.r == s.w {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(b, s.buf[s.r:s.w])
	s.r += n
	return n, nil
}

// header reads an object header: type and inflated size.
func (s *packSource) header() (plumbing.ObjectType, uint64, error) {
	c, err := s.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	typ := plumbing.ObjectType((c >> 4) & 7)
	size := uint64(c & 15)
	for shift := uint(4); c&0x80 != 0; shift += 7 {
		if shift > 60 {
			return 0, 0, errors.New("bad object header")
		}
		if c, err = s.ReadByte(); err != nil {
			return 0, 0, err
		}
		size |= uint64(c&0x7f) << shift
	}
	return typ, size, nil
}

// ofsDelta reads an OFS_DELTA's distance back to its base.
func (s *packSource) ofsDelta() (uint64, error) {
	c, err := s.ReadByte()
	if err != nil {
		return 0, err
	}
	v := uint64(c & 0x7f)
	for n := 1; c&0x80 != 0; n++ {
		if n > 9 {
			return 0, errors.New("bad delta base offset")
		}
		if c, err = s.ReadByte(); err != nil {
			return 0, err
		}
		v = ((v + 1) << 7) | uint64(c&0x7f)
	}
	return v, nil
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

// inflate decompresses size bytes of zlib data from src.
func (ps *packedStore) inflate(src *packSource, size uint64) ([]byte, error) {
	if size > maxObjectSize {
		return nil, fmt.Errorf("object of %d bytes: too large to merge", size)
	}
	out := make([]byte, size)
	if err := ps.inflateInto(src, out); err != nil {
		return nil, err
	}
	return out, nil
}

// inflateInto decompresses len(out) bytes of zlib data from src into out.
func (ps *packedStore) inflateInto(src *packSource, out []byte) error {
	f, _ := ps.zpool.Get().(*inflater)
	if f == nil {
		f = new(inflater)
	}
	err := f.inflate(src, out)
	ps.zpool.Put(f)
	return err
}

// applyDelta applies a git delta to base.
func applyDelta(base, delta []byte) ([]byte, error) {
	srcSize, n := deltaVarint(delta)
	if n == 0 || srcSize != uint64(len(base)) {
		return nil, errors.New("delta base size mismatch")
	}
	delta = delta[n:]
	dstSize, n := deltaVarint(delta)
	if n == 0 || dstSize > maxObjectSize {
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

// ReadObject returns an object read whole into memory (from a pack, or a
// loose object a storer read), its id known: the engine reads its bytes
// without a copy.
func ReadObject(h plumbing.Hash, t plumbing.ObjectType, data []byte) plumbing.EncodedObject {
	return &packedObject{h: h, t: t, data: data}
}

// packedObject is an object read whole (see ReadObject): its hash is known.
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
	return nil, errors.New("an object read from the repository is read-only")
}

// packFile is one mapped .idx and its open .pack, mapped too where the
// system can (read with positioned reads where it cannot).
type packFile struct {
	idxPath  string
	packPath string
	idx      []byte
	unmap    func() error
	pack     *os.File
	mapped   []byte // the whole .pack, or nil
	unmapPk  func() error
	size     int64
	n        uint32
	names    []byte
	offsets  []byte
	large    []byte
}

func openPackFile(idxPath, packPath string) (*packFile, error) {
	p := &packFile{idxPath: idxPath, packPath: packPath}
	f, err := os.Open(idxPath)
	if err != nil {
		return nil, err
	}
	p.idx, p.unmap, err = mapReadOnly(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", idxPath, err)
	}
	if p.pack, err = os.Open(packPath); err != nil {
		p.close()
		return nil, err
	}
	if err := p.parseIndex(); err != nil {
		p.close()
		return nil, fmt.Errorf("%s: %w", idxPath, err)
	}
	var head [4]byte
	st, err := p.pack.Stat()
	if err == nil {
		p.size = st.Size()
		_, err = p.pack.ReadAt(head[:], 0)
	}
	if err != nil || string(head[:]) != "PACK" {
		p.close()
		return nil, fmt.Errorf("%s: not a pack file (%v)", packPath, err)
	}
	// Reading a mapped pack costs no system call per object (a short
	// merge reads hundreds of commits, a long merge-base walk without a
	// commit-graph tens of thousands), as git reads its packs. Where it
	// cannot be mapped (no mmap, no address space) it is read as before.
	if m, unmap, err := mapPack(p.pack, p.size); err == nil && int64(len(m)) == p.size {
		p.mapped, p.unmapPk = m, unmap
	} else if err == nil && unmap != nil {
		unmap()
	}
	return p, nil
}

func (p *packFile) close() error {
	var first error
	if p.unmap != nil {
		first = p.unmap()
	}
	if p.unmapPk != nil {
		if err := p.unmapPk(); err != nil && first == nil {
			first = err
		}
	}
	if p.pack != nil {
		if err := p.pack.Close(); err != nil && first == nil {
			first = err
		}
	}
	p.unmap, p.idx, p.pack, p.unmapPk, p.mapped = nil, nil, nil, nil, nil
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
//
// Object ids are spread evenly: the search guesses h's place among the
// ids of its first byte (the fan-out's range) from its first 8 bytes and
// those of the range's ends, narrows the range to one side of the guess,
// and guesses again in what is left (at most 4 times, then by halves). In
// the 440,000-object index of the benchmarks it compares 4.3 ids a lookup
// where halving compares about 11 (a walk of maint and master: 60,000
// lookups), and a short merge faults in 40 pages of the mapped index
// fewer. Any order of comparisons finds the one entry of a sorted table
// that is h; a guess is always inside the range, whatever the index holds.
func (p *packFile) find(h plumbing.Hash) (uint64, bool) {
	fan := p.idx[8:]
	lo := uint32(0)
	if h[0] > 0 {
		lo = binary.BigEndian.Uint32(fan[4*(int(h[0])-1):])
	}
	hi := binary.BigEndian.Uint32(fan[4*int(h[0]):])
	if hi > p.n || lo > hi {
		return 0, false // a corrupt fan-out
	}
	key := binary.BigEndian.Uint64(h[:8]) // most probes differ in the first 8 bytes
	// Every id in [lo, hi) is in [kLo, kHi] (by its first 8 bytes).
	kLo := uint64(h[0]) << 56
	kHi := kLo | (1<<56 - 1)
	for round := 0; hi-lo > 16 && round < 4 && kLo < kHi; round++ {
		hiw, low := bits.Mul64(uint64(hi-lo), key-kLo)
		q, _ := bits.Div64(hiw, low, kHi-kLo+1)
		at := lo + uint32(q)
		switch c := p.compareAt(&h, key, at); {
		case c == 0:
			return p.offsetAt(at)
		case c < 0:
			hi, kHi = at, p.keyAt(at)
		default:
			lo, kLo = at+1, p.keyAt(at)
		}
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		switch c := p.compareAt(&h, key, mid); {
		case c == 0:
			return p.offsetAt(mid)
		case c < 0:
			hi = mid
		default:
			lo = mid + 1
		}
	}
	return 0, false
}

// compareAt compares h (whose first 8 bytes are key) with the i-th id of
// the index.
func (p *packFile) compareAt(h *plumbing.Hash, key uint64, i uint32) int {
	if k := binary.BigEndian.Uint64(p.names[20*uint64(i):]); key != k {
		if key < k {
			return -1
		}
		return 1
	}
	return p.compareRest(h, i)
}

// compareRest compares the bytes after the first 8 of h and the i-th id.
func (p *packFile) compareRest(h *plumbing.Hash, i uint32) int {
	return bytes.Compare(h[8:], p.names[20*uint64(i)+8:20*uint64(i)+20])
}

// keyAt returns the first 8 bytes of the i-th id.
func (p *packFile) keyAt(i uint32) uint64 {
	return binary.BigEndian.Uint64(p.names[20*uint64(i):])
}

// offsetAt returns the pack offset of the i-th object of the index.
func (p *packFile) offsetAt(i uint32) (uint64, bool) {
	off := binary.BigEndian.Uint32(p.offsets[4*uint64(i):])
	if off&0x80000000 == 0 {
		return uint64(off), true
	}
	k := uint64(off &^ 0x80000000)
	if 8*k+8 > uint64(len(p.large)) {
		return 0, false
	}
	return binary.BigEndian.Uint64(p.large[8*k:]), true
}

// header reads the object header at off: type, (inflated) size, and where
// the data after the header starts.
func (p *packFile) header(off uint64) (plumbing.ObjectType, uint64, uint64, error) {
	if off < 12 || off >= uint64(p.size) {
		return 0, 0, 0, fmt.Errorf("offset %d out of the pack", off)
	}
	var buf [16]byte
	var n int
	var err error
	if p.mapped != nil {
		n = copy(buf[:], p.mapped[off:])
	} else {
		n, err = p.pack.ReadAt(buf[:], int64(off))
	}
	if n == 0 {
		return 0, 0, 0, fmt.Errorf("read the pack at offset %d: %w", off, err)
	}
	b := buf[:n]
	c := b[0]
	typ := plumbing.ObjectType((c >> 4) & 7)
	size := uint64(c & 15)
	shift := uint(4)
	i := 1
	for c&0x80 != 0 {
		if i >= len(b) || shift > 60 {
			return 0, 0, 0, io.ErrUnexpectedEOF
		}
		c = b[i]
		size |= uint64(c&0x7f) << shift
		shift += 7
		i++
	}
	return typ, size, off + uint64(i), nil
}

// ObjectsWithPrefix returns the ids of the objects of the repository (in
// its packs and loose) whose hexadecimal form starts with prefix, at most
// limit of them: what an abbreviated id may name.
func (m *Merger) ObjectsWithPrefix(prefix string, limit int) ([]plumbing.Hash, error) {
	ps, ok := m.store.(*packedStore)
	if !ok {
		return nil, errors.New("abbreviated ids need a repository on disk")
	}
	return ps.withPrefix(strings.ToLower(prefix), limit)
}

func (ps *packedStore) withPrefix(prefix string, limit int) ([]plumbing.Hash, error) {
	if len(prefix) < 2 || len(prefix) > 2*len(plumbing.Hash{}) {
		return nil, fmt.Errorf("abbreviated id %q: 2 to 40 hex digits", prefix)
	}
	var low plumbing.Hash // the prefix padded with zeros: where matches start
	for i := 0; i < len(prefix); i++ {
		v, ok := unhex(prefix[i])
		if !ok {
			return nil, fmt.Errorf("abbreviated id %q: not hexadecimal", prefix)
		}
		low[i/2] |= v << (4 * (1 - i%2))
	}
	matches := func(h plumbing.Hash) bool {
		for i := 0; i < len(prefix); i++ {
			v, _ := unhex(prefix[i])
			if h[i/2]>>(4*(1-i%2))&15 != v {
				return false
			}
		}
		return true
	}
	var out []plumbing.Hash
	seen := map[plumbing.Hash]bool{}
	add := func(h plumbing.Hash) {
		if !seen[h] && len(out) < limit {
			seen[h] = true
			out = append(out, h)
		}
	}
	for _, p := range ps.packs {
		i := sort.Search(int(p.n), func(i int) bool { return bytes.Compare(p.names[20*i:20*i+20], low[:]) >= 0 })
		for ; i < int(p.n) && len(out) < limit; i++ {
			h := plumbing.Hash(p.names[20*i : 20*i+20])
			if !matches(h) {
				break
			}
			add(h)
		}
	}
	entries, err := os.ReadDir(filepath.Join(ps.objectsDir, prefix[:2]))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		if name := prefix[:2] + e.Name(); len(name) == 40 && strings.HasPrefix(name, prefix) && plumbing.IsHash(name) {
			add(plumbing.NewHash(name))
		}
	}
	return out, nil
}
