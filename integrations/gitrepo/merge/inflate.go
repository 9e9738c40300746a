package merge

// A zlib inflater for the pack reader. Objects in a pack are small zlib
// streams (a commit is about 200 bytes), most of them one dynamic Huffman
// block; compress/flate spends more time building its decoding tables for
// each such stream than decoding it (in a merge-base walk without a
// commit-graph, about a quarter of the walk). This inflater writes into a
// buffer of the size the pack header gives, builds only a table as wide as
// the block's longest code (at most 9 bits; longer, rare codes are decoded
// bit by bit) and checks the Adler-32 trailer as zlib does. Written from
// RFC 1950 and RFC 1951.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"math/bits"
	"sync"
)

var (
	errInflateCorrupt  = errors.New("inflate: corrupt deflate stream")
	errInflateLonger   = errors.New("inflate: the object is longer than its header says")
	errInflateShorter  = errors.New("inflate: the object is shorter than its header says")
	errInflateChecksum = errors.New("inflate: zlib checksum mismatch")
	errInflateHeader   = errors.New("inflate: not a zlib stream")
)

const (
	huffRootBits = 9
	maxCodeLen   = 15
)

// huffTable decodes one canonical Huffman code.
type huffTable struct {
	root  uint                      // index bits of table
	table [1 << huffRootBits]uint16 // symbol<<4 | length for codes of at most root bits; 0 otherwise
	count [maxCodeLen + 1]uint16    // number of codes of each length
	sym   [288]uint16               // symbols in canonical order
}

// symLen is a symbol and the length of its code (not 0).
type symLen struct {
	sym uint16
	len uint8
}

// build makes the table for the code lengths of symbols
// 0..len(lengths)-1; scratch must have room for them.
func (h *huffTable) build(lengths []uint8, scratch []symLen) error {
	n := 0
	for s, l := range lengths {
		if l != 0 {
			scratch[n] = symLen{uint16(s), l}
			n++
		}
	}
	return h.buildList(scratch[:n], 0)
}

// buildList makes the table for a code given by its symbols of non-zero
// length, in increasing order of symbol, each less base. Most of a
// commit's 316 code lengths are 0: dynamic gathers the others while it
// reads them, and this goes over them alone. As zlib, it refuses an
// over-subscribed code and an incomplete one unless its longest code has
// one bit (a single code), and accepts no code at all (every decode then
// fails).
func (h *huffTable) buildList(list []symLen, base uint16) error {
	h.count = [maxCodeLen + 1]uint16{}
	maxLen := uint8(0)
	for _, e := range list {
		h.count[e.len&maxCodeLen]++ // e.len is at most 15
		maxLen = max(maxLen, e.len)
	}
	left := 1
	for l := 1; l <= maxCodeLen; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return errInflateCorrupt
		}
	}
	if left > 0 && maxLen > 1 {
		return errInflateCorrupt
	}
	var offs [maxCodeLen + 1]uint16
	for l := 1; l < maxCodeLen; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for _, e := range list {
		o := &offs[e.len&maxCodeLen]
		h.sym[*o] = e.sym - base
		*o++
	}
	// The table for codes of at most l bits has 2^l entries, a code's at
	// its bits reversed (the stream sends codes from their first bit):
	// that of l+1 bits is two copies of it, then the codes of l+1 bits.
	// Entries of no code stay 0 (codes longer than root, or none).
	h.root = uint(min(max(maxLen, 1), huffRootBits))
	t := h.table[:1<<h.root]
	t[0], t[1] = 0, 0
	code, i := 0, 0
	for l := uint(1); l <= h.root; l++ {
		size := 1 << l
		if l > 1 {
			copy(t[size/2:size], t[:size/2])
		}
		for range h.count[l] {
			rev := int(bits.Reverse16(uint16(code)) >> (16 - l))
			t[rev] = h.sym[i]<<4 | uint16(l)
			code++
			i++
		}
		code <<= 1
	}
	return nil
}

// fixedTables are the tables of a fixed-code block (RFC 1951 3.2.6), built
// when a stream first needs them.
var fixedTables = sync.OnceValue(func() *[2]huffTable {
	var t [2]huffTable
	var lit [288]uint8
	for i := range lit {
		switch {
		case i < 144:
			lit[i] = 8
		case i < 256:
			lit[i] = 9
		case i < 280:
			lit[i] = 7
		default:
			lit[i] = 8
		}
	}
	var dist [32]uint8
	for i := range dist {
		dist[i] = 5
	}
	scratch := make([]symLen, len(lit))
	if t[0].build(lit[:], scratch) != nil || t[1].build(dist[:], scratch) != nil {
		panic("inflate: fixed tables")
	}
	return &t
})

var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// repeatBits and repeatBase are the extra bits and the least count of
	// the code length code's repeat symbols 16, 17 and 18.
	repeatBits = [3]uint{2, 3, 7}
	repeatBase = [3]uint{3, 3, 11}
	// codeLenOrder is the order of the code length code's lengths.
	codeLenOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// chunkSource supplies compressed bytes: each call returns the next
// non-empty piece, or an error.
type chunkSource interface {
	chunk() ([]byte, error)
}

// inflater inflates zlib streams; reuse one to keep its tables.
type inflater struct {
	src   chunkSource
	in    []byte
	taken int   // bytes src handed out for this stream
	rest  int   // of them, unread after the stream's end
	err   error // from src, reported when bits are missing
	bits  uint64
	nbits uint

	lit, dist, codeLen huffTable
	list               [286 + 30]symLen // a dynamic block's codes (by buildList)
}

// inflate reads one zlib stream from src into out, which must be exactly
// the inflated size; it reads past the stream's end into src's buffer.
func (f *inflater) inflate(src chunkSource, out []byte) error {
	_, err := f.inflatePrefix(src, out)
	return err
}

// inflatePrefix is inflate that also returns how many bytes of out it
// wrote: all of them when it returns no error, and the stream's start
// when it stops with errInflateLonger or errInflateShorter.
func (f *inflater) inflatePrefix(src chunkSource, out []byte) (int, error) {
	f.src, f.in, f.taken, f.err, f.bits, f.nbits = src, nil, 0, nil, 0, 0
	defer func() { f.src, f.in = nil, nil }()
	if err := f.need(16); err != nil {
		return 0, err
	}
	cmf, flg := byte(f.bits), byte(f.bits>>8)
	f.drop(16)
	if cmf&0x0f != 8 || cmf>>4 > 7 || (uint(cmf)<<8|uint(flg))%31 != 0 {
		return 0, errInflateHeader
	}
	if flg&0x20 != 0 {
		return 0, errors.New("inflate: zlib stream needs a preset dictionary")
	}
	pos := 0
	for {
		if err := f.need(3); err != nil {
			return pos, err
		}
		final, typ := f.bits&1, (f.bits>>1)&3
		f.drop(3)
		var err error
		switch typ {
		case 0:
			pos, err = f.stored(out, pos)
		case 1:
			t := fixedTables()
			pos, err = f.codes(&t[0], &t[1], out, pos)
		case 2:
			if err = f.dynamic(); err == nil {
				pos, err = f.codes(&f.lit, &f.dist, out, pos)
			}
		default:
			err = errInflateCorrupt
		}
		if err != nil {
			return pos, err
		}
		if final == 1 {
			break
		}
	}
	if pos != len(out) {
		return pos, errInflateShorter
	}
	f.drop(f.nbits % 8)
	var sum [4]byte
	for i := range sum {
		if err := f.need(8); err != nil {
			return pos, err
		}
		sum[i] = byte(f.bits)
		f.drop(8)
	}
	if binary.BigEndian.Uint32(sum[:]) != adler32.Checksum(out) {
		return pos, errInflateChecksum
	}
	f.rest = len(f.in) + int(f.nbits/8)
	return pos, nil
}

// consumed is how many bytes of src the last successful inflate used: the
// zlib stream's length (what it read past the end is still unread).
func (f *inflater) consumed() int { return f.taken - f.rest }

// refill fills the bit buffer from the input, as far as there is input.
func (f *inflater) refill() {
	for f.nbits <= 56 {
		if len(f.in) == 0 && !f.more() {
			return
		}
		if len(f.in) >= 8 {
			k := (64 - f.nbits) >> 3 // whole bytes that fit
			v := binary.LittleEndian.Uint64(f.in)
			if k < 8 {
				v &= 1<<(8*k) - 1
			}
			f.bits |= v << f.nbits
			f.nbits += 8 * k
			f.in = f.in[k:]
			return
		}
		f.bits |= uint64(f.in[0]) << f.nbits
		f.in = f.in[1:]
		f.nbits += 8
	}
}

// more reads the next piece of input; false (and f.err set) when there is none.
func (f *inflater) more() bool {
	if f.err != nil {
		return false
	}
	f.in, f.err = f.src.chunk()
	f.taken += len(f.in)
	if f.err == nil && len(f.in) == 0 {
		f.err = io.ErrUnexpectedEOF
	}
	if f.err != nil {
		f.in = nil
		return false
	}
	return true
}

// need makes sure n bits (at most 57) are in the buffer.
func (f *inflater) need(n uint) error {
	if f.nbits >= n {
		return nil
	}
	f.refill()
	if f.nbits >= n {
		return nil
	}
	if f.err == io.EOF || f.err == nil {
		return io.ErrUnexpectedEOF
	}
	return f.err
}

func (f *inflater) drop(n uint) {
	f.bits >>= n
	f.nbits -= n
}

// take reads n bits (n at most 16).
func (f *inflater) take(n uint) (uint, error) {
	if err := f.need(n); err != nil {
		return 0, err
	}
	v := uint(f.bits & (1<<n - 1))
	f.drop(n)
	return v, nil
}

// decode reads one symbol of h.
func (f *inflater) decode(h *huffTable) (int, error) {
	if f.nbits < maxCodeLen {
		f.refill()
	}
	e := h.table[f.bits&(1<<h.root-1)]
	if n := uint(e & 15); e != 0 && n <= f.nbits {
		f.bits >>= n
		f.nbits -= n
		return int(e >> 4), nil
	}
	return f.decodeSlow(h)
}

// decodeSlow reads a code longer than the table, or one the block does
// not have: one bit at a time.
func (f *inflater) decodeSlow(h *huffTable) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l <= maxCodeLen; l++ {
		if f.nbits == 0 {
			if err := f.need(1); err != nil {
				return 0, err
			}
		}
		code |= int(f.bits & 1)
		f.drop(1)
		count := int(h.count[l])
		if code-count < first {
			return int(h.sym[index+code-first]), nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, errInflateCorrupt
}

// stored copies a stored block.
func (f *inflater) stored(out []byte, pos int) (int, error) {
	f.drop(f.nbits % 8)
	if err := f.need(32); err != nil {
		return pos, err
	}
	n, nn := int(f.bits&0xffff), int((f.bits>>16)&0xffff)
	f.drop(32)
	if n != ^nn&0xffff {
		return pos, errInflateCorrupt
	}
	if n > len(out)-pos {
		return pos, errInflateLonger
	}
	for ; n > 0 && f.nbits >= 8; n-- {
		out[pos] = byte(f.bits)
		pos++
		f.drop(8)
	}
	for n > 0 {
		if len(f.in) == 0 && !f.more() {
			return pos, f.need(8) // reports the error
		}
		k := copy(out[pos:pos+n], f.in)
		f.in = f.in[k:]
		pos += k
		n -= k
	}
	return pos, nil
}

// dynamic reads a dynamic block's code tables.
func (f *inflater) dynamic() error {
	if err := f.need(14); err != nil {
		return err
	}
	nlen := int(f.bits&31) + 257
	ndist := int((f.bits>>5)&31) + 1
	ncode := int((f.bits>>10)&15) + 4
	f.drop(14)
	if nlen > 286 || ndist > 30 {
		return errInflateCorrupt
	}
	var cl [19]uint8
	if err := f.need(uint(3 * ncode)); err != nil { // at most 57 bits
		return err
	}
	for i := range ncode {
		cl[codeLenOrder[i]] = uint8(f.bits & 7)
		f.drop(3)
	}
	if err := f.codeLen.build(cl[:], f.list[:len(cl)]); err != nil {
		return err
	}
	// The lengths of the literal/length code, then of the distance code;
	// only those not 0 are kept (in f.list), in order.
	total := nlen + ndist
	n, nLit := 0, 0
	prev := uint8(0)
	hasEnd := false
	clMask := uint64(1)<<f.codeLen.root - 1
	for i := 0; i < total; {
		// A code (at most 7 bits) and its extra bits (at most 7) come
		// from the buffer when they are in it, else through decode and
		// take, which read on or fail.
		if f.nbits < 14 {
			f.refill()
		}
		var sym int
		if e := f.codeLen.table[f.bits&clMask]; e != 0 && f.nbits >= 14 {
			f.drop(uint(e & 15))
			sym = int(e >> 4)
		} else {
			var err error
			if sym, err = f.decode(&f.codeLen); err != nil {
				return err
			}
		}
		rep := uint(1)
		if sym < 16 {
			prev = uint8(sym)
		} else {
			if sym == 16 && i == 0 {
				return errInflateCorrupt
			}
			if sym > 16 {
				prev = 0
			}
			nb, base := repeatBits[sym-16], repeatBase[sym-16]
			if f.nbits >= nb {
				rep = uint(f.bits&(1<<nb-1)) + base
				f.drop(nb)
			} else {
				v, err := f.take(nb)
				if err != nil {
					return err
				}
				rep = v + base
			}
		}
		if i+int(rep) > total {
			return errInflateCorrupt
		}
		if prev == 0 {
			i += int(rep)
			continue
		}
		for ; rep > 0; rep-- {
			f.list[n] = symLen{uint16(i), prev}
			n++
			if i < nlen {
				nLit++
			}
			hasEnd = hasEnd || i == 256
			i++
		}
	}
	lit, dist := f.list[:nLit], f.list[nLit:n]
	if !hasEnd { // no end-of-block code
		return errInflateCorrupt
	}
	if err := f.lit.buildList(lit, 0); err != nil {
		return err
	}
	return f.dist.buildList(dist, uint16(nlen))
}

// codes decodes a block's symbols up to its end: fast while 8 bytes of
// input are at hand (nearly always: the pack is mapped), one symbol at a
// time otherwise.
func (f *inflater) codes(lit, dist *huffTable, out []byte, pos int) (int, error) {
	for {
		var done bool
		var err error
		if len(f.in) >= 8 {
			if pos, done, err = f.codesFast(lit, dist, out, pos); done || err != nil {
				return pos, err
			}
		}
		if pos, done, err = f.codeStep(lit, dist, out, pos); done || err != nil {
			return pos, err
		}
	}
}

// codesFast decodes symbols with the bit buffer in registers, refilled
// with 8 bytes at a time to hold what a literal or a length and distance
// pair takes (at most 48 bits), until the end of the block (done), less
// than 8 bytes of input, or a literal/length code longer than the table.
func (f *inflater) codesFast(lit, dist *huffTable, out []byte, pos int) (_ int, done bool, err error) {
	bits, nbits, in := f.bits, f.nbits, f.in
	litMask, distMask := uint64(1)<<lit.root-1, uint64(1)<<dist.root-1
	for {
		if nbits < 48 {
			if len(in) < 8 {
				break
			}
			k := (63 - nbits) >> 3 // whole bytes that fit: 1 to 7
			bits |= (binary.LittleEndian.Uint64(in) & (1<<(8*k) - 1)) << nbits
			nbits += 8 * k
			in = in[k:]
		}
		e := lit.table[bits&litMask]
		if e == 0 {
			break // a long code, or none: codeStep decodes it
		}
		n := uint(e & 15)
		bits >>= n
		nbits -= n
		sym := int(e >> 4)
		if sym < 256 {
			if pos == len(out) {
				err = errInflateLonger
				break
			}
			out[pos] = byte(sym)
			pos++
			continue
		}
		if sym == 256 {
			done = true
			break
		}
		if sym > 285 {
			err = errInflateCorrupt
			break
		}
		sym -= 257
		ne := uint(lengthExtra[sym])
		length := int(lengthBase[sym]) + int(bits&(1<<ne-1))
		bits >>= ne
		nbits -= ne
		e = dist.table[bits&distMask]
		if e == 0 { // a long distance code, or none
			f.bits, f.nbits, f.in = bits, nbits, in
			if pos, err = f.distance(dist, out, pos, length); err != nil {
				return pos, false, err
			}
			bits, nbits, in = f.bits, f.nbits, f.in
			continue
		}
		n = uint(e & 15)
		bits >>= n
		nbits -= n
		ds := int(e >> 4)
		if ds >= 30 {
			err = errInflateCorrupt
			break
		}
		ne = uint(distExtra[ds])
		d := int(distBase[ds]) + int(bits&(1<<ne-1))
		bits >>= ne
		nbits -= ne
		if pos, err = copyMatch(out, pos, length, d); err != nil {
			break
		}
	}
	f.bits, f.nbits, f.in = bits, nbits, in
	return pos, done, err
}

// codeStep decodes one symbol (with its distance), reading input as it
// needs it; done at the end of the block.
func (f *inflater) codeStep(lit, dist *huffTable, out []byte, pos int) (int, bool, error) {
	sym, err := f.decode(lit)
	if err != nil {
		return pos, false, err
	}
	switch {
	case sym < 256:
		if pos == len(out) {
			return pos, false, errInflateLonger
		}
		out[pos] = byte(sym)
		return pos + 1, false, nil
	case sym == 256:
		return pos, true, nil
	case sym > 285:
		return pos, false, errInflateCorrupt
	}
	sym -= 257
	extra, err := f.take(uint(lengthExtra[sym]))
	if err != nil {
		return pos, false, err
	}
	pos, err = f.distance(dist, out, pos, int(lengthBase[sym])+int(extra))
	return pos, false, err
}

// distance reads a distance and copies the n bytes it points back to.
func (f *inflater) distance(dist *huffTable, out []byte, pos, n int) (int, error) {
	ds, err := f.decode(dist)
	if err != nil {
		return pos, err
	}
	if ds >= 30 {
		return pos, errInflateCorrupt
	}
	extra, err := f.take(uint(distExtra[ds]))
	if err != nil {
		return pos, err
	}
	return copyMatch(out, pos, n, int(distBase[ds])+int(extra))
}

// copyMatch copies n bytes from d back at pos.
func copyMatch(out []byte, pos, n, d int) (int, error) {
	if d > pos {
		return pos, fmt.Errorf("%w: distance %d back at %d", errInflateCorrupt, d, pos)
	}
	if n > len(out)-pos {
		return pos, errInflateLonger
	}
	if d >= n {
		copy(out[pos:pos+n], out[pos-d:pos-d+n])
		return pos + n, nil
	}
	for end := pos + n; pos < end; pos++ {
		out[pos] = out[pos-d]
	}
	return pos, nil
}
