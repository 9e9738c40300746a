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

// build makes the table for the code lengths of symbols 0..len(lengths)-1.
// As zlib, it refuses an over-subscribed code and an incomplete one unless
// its longest code has one bit (a single code), and accepts no code at all
// (every decode then fails).
func (h *huffTable) build(lengths []uint8) error {
	h.count = [maxCodeLen + 1]uint16{}
	maxLen := uint(0)
	for _, l := range lengths {
		if l != 0 { // most are 0: no chain of increments of one counter
			h.count[l]++
			maxLen = max(maxLen, uint(l))
		}
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
	var offs [maxCodeLen + 2]uint16
	for l := 1; l <= maxCodeLen; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for s, l := range lengths {
		if l != 0 {
			h.sym[offs[l]] = uint16(s)
			offs[l]++
		}
	}
	h.root = min(max(maxLen, 1), huffRootBits)
	size := 1 << h.root
	clear(h.table[:size])
	code, i := 0, 0
	for l := uint(1); l <= h.root; l++ {
		for range h.count[l] {
			rev := int(bits.Reverse16(uint16(code)) >> (16 - l))
			e := h.sym[i]<<4 | uint16(l)
			for j := rev; j < size; j += 1 << l {
				h.table[j] = e
			}
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
	if t[0].build(lit[:]) != nil || t[1].build(dist[:]) != nil {
		panic("inflate: fixed tables")
	}
	return &t
})

var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
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
	lens               [286 + 30]uint8
}

// inflate reads one zlib stream from src into out, which must be exactly
// the inflated size; it reads past the stream's end into src's buffer.
func (f *inflater) inflate(src chunkSource, out []byte) error {
	f.src, f.in, f.taken, f.err, f.bits, f.nbits = src, nil, 0, nil, 0, 0
	defer func() { f.src, f.in = nil, nil }()
	if err := f.need(16); err != nil {
		return err
	}
	cmf, flg := byte(f.bits), byte(f.bits>>8)
	f.drop(16)
	if cmf&0x0f != 8 || cmf>>4 > 7 || (uint(cmf)<<8|uint(flg))%31 != 0 {
		return errInflateHeader
	}
	if flg&0x20 != 0 {
		return errors.New("inflate: zlib stream needs a preset dictionary")
	}
	pos := 0
	for {
		if err := f.need(3); err != nil {
			return err
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
			return err
		}
		if final == 1 {
			break
		}
	}
	if pos != len(out) {
		return errInflateShorter
	}
	f.drop(f.nbits % 8)
	var sum [4]byte
	for i := range sum {
		if err := f.need(8); err != nil {
			return err
		}
		sum[i] = byte(f.bits)
		f.drop(8)
	}
	if binary.BigEndian.Uint32(sum[:]) != adler32.Checksum(out) {
		return errInflateChecksum
	}
	f.rest = len(f.in) + int(f.nbits/8)
	return nil
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
	for i := range ncode {
		v, err := f.take(3)
		if err != nil {
			return err
		}
		cl[codeLenOrder[i]] = uint8(v)
	}
	if err := f.codeLen.build(cl[:]); err != nil {
		return err
	}
	lens := f.lens[:nlen+ndist]
	for i := 0; i < len(lens); {
		sym, err := f.decode(&f.codeLen)
		if err != nil {
			return err
		}
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep uint
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return errInflateCorrupt
			}
			val = lens[i-1]
			rep, err = f.take(2)
			rep += 3
		case 17:
			rep, err = f.take(3)
			rep += 3
		default:
			rep, err = f.take(7)
			rep += 11
		}
		if err != nil {
			return err
		}
		if i+int(rep) > len(lens) {
			return errInflateCorrupt
		}
		for ; rep > 0; rep-- {
			lens[i] = val
			i++
		}
	}
	if lens[256] == 0 { // no end-of-block code
		return errInflateCorrupt
	}
	if err := f.lit.build(lens[:nlen]); err != nil {
		return err
	}
	return f.dist.build(lens[nlen:])
}

// codes decodes a block's symbols up to its end.
func (f *inflater) codes(lit, dist *huffTable, out []byte, pos int) (int, error) {
	for {
		sym, err := f.decode(lit)
		if err != nil {
			return pos, err
		}
		switch {
		case sym < 256:
			if pos == len(out) {
				return pos, errInflateLonger
			}
			out[pos] = byte(sym)
			pos++
			continue
		case sym == 256:
			return pos, nil
		case sym > 285:
			return pos, errInflateCorrupt
		}
		sym -= 257
		extra, err := f.take(uint(lengthExtra[sym]))
		if err != nil {
			return pos, err
		}
		n := int(lengthBase[sym]) + int(extra)
		ds, err := f.decode(dist)
		if err != nil {
			return pos, err
		}
		if ds >= 30 {
			return pos, errInflateCorrupt
		}
		extra, err = f.take(uint(distExtra[ds]))
		if err != nil {
			return pos, err
		}
		d := int(distBase[ds]) + int(extra)
		if d > pos {
			return pos, fmt.Errorf("%w: distance %d back at %d", errInflateCorrupt, d, pos)
		}
		if n > len(out)-pos {
			return pos, errInflateLonger
		}
		if d >= n {
			copy(out[pos:pos+n], out[pos-d:pos-d+n])
			pos += n
			continue
		}
		for end := pos + n; pos < end; pos++ {
			out[pos] = out[pos-d]
		}
	}
}
