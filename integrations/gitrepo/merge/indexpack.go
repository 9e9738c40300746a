package merge

// Indexing a received pack, as `git index-pack` does: go-git's fetch
// indexes the pack it receives in Go with compress/flate and inflates every
// object twice; on a pack the size of git.git's that is most of an initial
// mirror's time. This indexer reads the pack once in order (inflating each
// object with the pack reader's inflater to find where the next one
// starts, hashing the whole objects), then resolves the deltas from each
// base down its chain of deltas, so that only bases and deltas are
// inflated a second time, and writes a version 2 index, the same bytes git
// writes. A thin pack (deltas against objects outside it) is refused with
// ErrThinPack: the caller leaves it to go-git.

import (
	"bytes"
	"cmp"
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
	gghash "github.com/go-git/go-git/v5/plumbing/hash"
)

// ErrThinPack is returned by IndexPack for a pack with deltas against
// objects it does not hold.
var ErrThinPack = errors.New("thin pack: deltas against objects outside it")

// indexedObject is one object of a pack being indexed (56 bytes: a pack
// of git.git's size has hundreds of thousands).
type indexedObject struct {
	off      uint64 // where it starts
	size     uint64 // inflated size (of the delta for a delta)
	baseOff  uint64 // OFS_DELTA: the base's offset
	hash     plumbing.Hash
	crc      uint32
	hdrLen   uint8 // header (and base reference) length: the zlib data is at off+hdrLen
	typ      plumbing.ObjectType
	resolved bool
}

// seqChunks reads a file in order through a large window, and can go back
// to any offset still in the window.
type seqChunks struct {
	f      *os.File
	size   int64
	buf    []byte
	bufOff int64 // file offset of buf[0]
	r      int   // next byte of buf to hand out
}

func (s *seqChunks) seek(off int64) error {
	if off >= s.bufOff && off <= s.bufOff+int64(len(s.buf)) {
		s.r = int(off - s.bufOff)
		return nil
	}
	return s.load(off)
}

func (s *seqChunks) load(off int64) error {
	if off >= s.size {
		return io.ErrUnexpectedEOF
	}
	s.buf = s.buf[:cap(s.buf)]
	n, err := s.f.ReadAt(s.buf[:min(int64(len(s.buf)), s.size-off)], off)
	if n == 0 {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	s.buf, s.bufOff, s.r = s.buf[:n], off, 0
	return nil
}

func (s *seqChunks) chunk() ([]byte, error) {
	if s.r == len(s.buf) {
		if err := s.load(s.bufOff + int64(len(s.buf))); err != nil {
			return nil, err
		}
	}
	b := s.buf[s.r:]
	s.r = len(s.buf)
	return b, nil
}

func (s *seqChunks) ReadByte() (byte, error) {
	if s.r == len(s.buf) {
		if err := s.load(s.bufOff + int64(len(s.buf))); err != nil {
			return 0, err
		}
	}
	c := s.buf[s.r]
	s.r++
	return c, nil
}

func (s *seqChunks) pos() int64 { return s.bufOff + int64(s.r) }

// crc returns the CRC-32 of the file's bytes [from, to), from the window
// when it holds them.
func (s *seqChunks) crc(from, to int64) (uint32, error) {
	if from >= s.bufOff && to <= s.bufOff+int64(len(s.buf)) {
		return crc32.ChecksumIEEE(s.buf[from-s.bufOff : to-s.bufOff]), nil
	}
	b := make([]byte, to-from)
	if _, err := s.f.ReadAt(b, from); err != nil {
		return 0, err
	}
	return crc32.ChecksumIEEE(b), nil
}

// IndexPack checks the pack file at packPath and writes its version 2
// index to idxPath. It returns the pack's checksum, which names the pair
// (pack-<checksum>.pack and .idx), and ErrThinPack for a thin pack.
func IndexPack(packPath, idxPath string) (plumbing.Hash, error) {
	f, err := os.Open(packPath)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	objs, refBases, sum, err := scanPack(f, st.Size())
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("index %s: %w", packPath, err)
	}
	if err := resolveDeltas(f, st.Size(), objs, refBases); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("index %s: %w", packPath, err)
	}
	if err := os.WriteFile(idxPath, packIndexV2(objs, sum), 0o444); err != nil {
		return plumbing.ZeroHash, err
	}
	return sum, nil
}

// scanPack reads every object in order: offsets, CRCs, and the ids of the
// whole objects. It checks the pack's trailing checksum (computed at the
// same time on another goroutine).
func scanPack(f *os.File, size int64) ([]indexedObject, map[int]plumbing.Hash, plumbing.Hash, error) {
	var head [12]byte
	if _, err := f.ReadAt(head[:], 0); err != nil || string(head[:4]) != "PACK" {
		return nil, nil, plumbing.ZeroHash, fmt.Errorf("not a pack file (%v)", err)
	}
	if v := binary.BigEndian.Uint32(head[4:]); v != 2 && v != 3 {
		return nil, nil, plumbing.ZeroHash, fmt.Errorf("pack version %d", v)
	}
	n := binary.BigEndian.Uint32(head[8:])
	if size < 32 || uint64(n) > uint64(size)/2 {
		return nil, nil, plumbing.ZeroHash, errors.New("pack too short for its object count")
	}
	sumc := make(chan error, 1)
	var trailer plumbing.Hash
	go func() {
		h := newSHA1()
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, size-20)); err != nil {
			sumc <- err
			return
		}
		if _, err := f.ReadAt(trailer[:], size-20); err != nil {
			sumc <- err
			return
		}
		if !bytes.Equal(h.Sum(nil), trailer[:]) {
			sumc <- errors.New("pack checksum mismatch")
			return
		}
		sumc <- nil
	}()
	objs, refBases, err := scanObjects(f, size, n)
	if serr := <-sumc; err == nil {
		err = serr
	}
	return objs, refBases, trailer, err
}

func scanObjects(f *os.File, size int64, n uint32) ([]indexedObject, map[int]plumbing.Hash, error) {
	objs := make([]indexedObject, n)
	refBases := map[int]plumbing.Hash{}
	if n == 0 {
		if size != 32 {
			return nil, nil, errors.New("bytes after the last object")
		}
		return objs, refBases, nil
	}
	src := &seqChunks{f: f, size: size - 20, buf: make([]byte, 0, 1<<20)}
	if err := src.load(12); err != nil {
		return nil, nil, err
	}
	var z inflater
	end := uint64(12)
	var out []byte
	var ids objectHasher
	for i := range objs {
		o := &objs[i]
		o.off = uint64(src.pos())
		c, err := src.ReadByte()
		if err != nil {
			return nil, nil, fmt.Errorf("object %d: %w", i, err)
		}
		o.typ = plumbing.ObjectType((c >> 4) & 7)
		o.size = uint64(c & 15)
		for shift := uint(4); c&0x80 != 0; shift += 7 {
			if shift > 60 {
				return nil, nil, fmt.Errorf("object %d: bad header", i)
			}
			if c, err = src.ReadByte(); err != nil {
				return nil, nil, fmt.Errorf("object %d: %w", i, err)
			}
			o.size |= uint64(c&0x7f) << shift
		}
		switch o.typ {
		case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
		case plumbing.OFSDeltaObject:
			c, err := src.ReadByte()
			v := uint64(c & 0x7f)
			for k := 1; err == nil && c&0x80 != 0; k++ {
				if k > 9 {
					err = errors.New("bad delta base offset")
					break
				}
				if c, err = src.ReadByte(); err == nil {
					v = ((v + 1) << 7) | uint64(c&0x7f)
				}
			}
			if err == nil && (v == 0 || v > o.off) {
				err = errors.New("bad delta base offset")
			}
			if err != nil {
				return nil, nil, fmt.Errorf("object %d: %w", i, err)
			}
			o.baseOff = o.off - v
		case plumbing.REFDeltaObject:
			var base plumbing.Hash
			for k := range base {
				if base[k], err = src.ReadByte(); err != nil {
					return nil, nil, fmt.Errorf("object %d: %w", i, err)
				}
			}
			refBases[i] = base
		default:
			return nil, nil, fmt.Errorf("object %d: type %d", i, o.typ)
		}
		data := uint64(src.pos())
		o.hdrLen = uint8(data - o.off)
		if o.size > maxObjectSize {
			return nil, nil, fmt.Errorf("object %d: %d bytes", i, o.size)
		}
		if uint64(cap(out)) < o.size {
			out = make([]byte, o.size)
		}
		out = out[:o.size]
		if err := z.inflate(src, out); err != nil {
			return nil, nil, fmt.Errorf("object %d at offset %d: %w", i, o.off, err)
		}
		end = data + uint64(z.consumed())
		if err := src.seek(int64(end)); err != nil && i+1 < len(objs) {
			return nil, nil, fmt.Errorf("object %d: %w", i, err)
		}
		if o.crc, err = src.crc(int64(o.off), int64(end)); err != nil {
			return nil, nil, err
		}
		if !o.typ.IsDelta() {
			o.hash = ids.id(o.typ, out)
			o.resolved = true
		}
		if cap(out) > 16<<20 {
			out = nil // keep no huge buffer
		}
	}
	if int64(end) != size-20 {
		return nil, nil, fmt.Errorf("%d bytes after the last object", size-20-int64(end))
	}
	return objs, refBases, nil
}

// newSHA1 is SHA-1 with collision detection (go-git's, sha1cd), as git
// hashes objects and packs (its sha1dc): an object crafted to collide
// with another gets an id of its own instead of passing for it. It is
// also as fast as crypto/sha1 on objects of a few hundred bytes, and
// keeps crypto/sha1 (which links the FIPS module, a tenth of the
// merge-tree binary's package initialisation) out of the engine.
func newSHA1() hash.Hash { return gghash.New(crypto.SHA1) }

// objectHasher hashes objects as git does: "<type> <size>\0" then the
// content. One is reused for every object of a pack (a hasher and a
// header buffer each, not one per object).
type objectHasher struct {
	h   hash.Hash
	hdr []byte
}

func (o *objectHasher) id(t plumbing.ObjectType, data []byte) plumbing.Hash {
	if o.h == nil {
		o.h = newSHA1()
	}
	o.h.Reset()
	o.hdr = append(o.hdr[:0], t.String()...)
	o.hdr = append(o.hdr, ' ')
	o.hdr = strconv.AppendInt(o.hdr, int64(len(data)), 10)
	o.hdr = append(o.hdr, 0)
	o.h.Write(o.hdr)
	o.h.Write(data)
	var id plumbing.Hash
	o.h.Sum(id[:0])
	return id
}

// resolveDeltas gives every delta its type and id: from each whole object,
// depth first down the deltas against it (by offset and by id).
func resolveDeltas(f *os.File, size int64, objs []indexedObject, refBases map[int]plumbing.Hash) error {
	// deltas against an offset, in order of their base's offset
	var byOff []int32
	for i := range objs {
		if objs[i].typ == plumbing.OFSDeltaObject {
			byOff = append(byOff, int32(i))
		}
	}
	if len(byOff) == 0 && len(refBases) == 0 {
		return nil
	}
	slices.SortStableFunc(byOff, func(a, b int32) int { return cmp.Compare(objs[a].baseOff, objs[b].baseOff) })
	byHash := map[plumbing.Hash][]int32{}
	for i, h := range refBases {
		byHash[h] = append(byHash[h], int32(i))
	}
	for _, kids := range byHash {
		slices.Sort(kids) // in pack order, whatever the map's
	}
	r := &deltaResolver{f: f, size: size, objs: objs, byOff: byOff, byHash: byHash}
	for i := range objs {
		o := &objs[i]
		if o.typ.IsDelta() || !r.hasChildren(o) {
			continue
		}
		data, err := r.inflateAt(o, nil)
		if err != nil {
			return err
		}
		if err := r.children(o, data); err != nil {
			return err
		}
	}
	for i := range objs {
		if !objs[i].resolved {
			if h, ok := refBases[i]; ok {
				return fmt.Errorf("%w (base %s)", ErrThinPack, h)
			}
			return fmt.Errorf("delta at offset %d has no base in the pack", objs[i].off)
		}
	}
	return nil
}

type deltaResolver struct {
	f      *os.File
	size   int64
	objs   []indexedObject
	byOff  []int32 // OFS_DELTAs by their base's offset
	byHash map[plumbing.Hash][]int32
	z      inflater
	ids    objectHasher
	delta  []byte // scratch for a delta's instructions
	src    *packSource
}

// offChildren returns the OFS_DELTAs against the object at off.
func (r *deltaResolver) offChildren(off uint64) []int32 {
	i, _ := slices.BinarySearchFunc(r.byOff, off, func(k int32, off uint64) int { return cmp.Compare(r.objs[k].baseOff, off) })
	j := i
	for j < len(r.byOff) && r.objs[r.byOff[j]].baseOff == off {
		j++
	}
	return r.byOff[i:j]
}

func (r *deltaResolver) hasChildren(o *indexedObject) bool {
	return len(r.offChildren(o.off)) > 0 || len(r.byHash[o.hash]) > 0
}

// inflateAt inflates the object o into buf (grown as needed).
func (r *deltaResolver) inflateAt(o *indexedObject, buf []byte) ([]byte, error) {
	if r.src == nil {
		r.src = &packSource{p: &packFile{pack: r.f, size: r.size}, buf: make([]byte, packWindow)}
	}
	r.src.r, r.src.w, r.src.next = 0, 0, int64(o.off)+int64(o.hdrLen)
	if uint64(cap(buf)) < o.size {
		buf = make([]byte, o.size)
	}
	buf = buf[:o.size]
	if err := r.z.inflate(r.src, buf); err != nil {
		return nil, fmt.Errorf("object at offset %d: %w", o.off, err)
	}
	return buf, nil
}

// children resolves the deltas against o, whose content is data.
func (r *deltaResolver) children(o *indexedObject, data []byte) error {
	for _, kids := range [2][]int32{r.offChildren(o.off), r.byHash[o.hash]} {
		for _, k := range kids {
			c := &r.objs[k]
			if c.resolved {
				continue // a REF_DELTA base twice in the pack
			}
			delta, err := r.inflateAt(c, r.delta)
			if err != nil {
				return err
			}
			r.delta = delta
			out, err := applyDelta(data, delta)
			if err != nil {
				return fmt.Errorf("delta at offset %d: %w", c.off, err)
			}
			c.typ = o.typ
			c.hash = r.ids.id(c.typ, out)
			c.resolved = true
			if r.hasChildren(c) {
				if err := r.children(c, out); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// packIndexV2 is the version 2 index of the objects of the pack sum.
func packIndexV2(objs []indexedObject, sum plumbing.Hash) []byte {
	order := make([]int, len(objs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(objs[a].hash[:], objs[b].hash[:]) })
	n := len(objs)
	b := make([]byte, 0, 8+256*4+n*(20+4+4)+64)
	b = append(b, 0xff, 't', 'O', 'c', 0, 0, 0, 2)
	var fan [256]uint32
	for _, o := range objs {
		fan[o.hash[0]]++
	}
	total := uint32(0)
	for _, c := range fan {
		total += c
		b = binary.BigEndian.AppendUint32(b, total)
	}
	for _, i := range order {
		b = append(b, objs[i].hash[:]...)
	}
	for _, i := range order {
		b = binary.BigEndian.AppendUint32(b, objs[i].crc)
	}
	var large []uint64
	for _, i := range order {
		off := objs[i].off
		if off < 1<<31 {
			b = binary.BigEndian.AppendUint32(b, uint32(off))
			continue
		}
		b = binary.BigEndian.AppendUint32(b, 0x80000000|uint32(len(large)))
		large = append(large, off)
	}
	for _, off := range large {
		b = binary.BigEndian.AppendUint64(b, off)
	}
	b = append(b, sum[:]...)
	h := newSHA1()
	h.Write(b)
	return h.Sum(b)
}
