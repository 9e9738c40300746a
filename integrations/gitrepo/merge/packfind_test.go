package merge

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// indexOf builds a version 2 pack index of ids (the i-th sorted id at
// offset 12+i, or in the large offset table for every 7th id) and
// returns its packFile.
func indexOf(t *testing.T, ids []plumbing.Hash) *packFile {
	t.Helper()
	slices.SortFunc(ids, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	ids = slices.CompactFunc(ids, func(a, b plumbing.Hash) bool { return a == b })
	b := []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}
	var fan [256]uint32
	for _, h := range ids {
		fan[h[0]]++
	}
	total := uint32(0)
	for i := range fan {
		total += fan[i]
		b = binary.BigEndian.AppendUint32(b, total)
	}
	for _, h := range ids {
		b = append(b, h[:]...)
	}
	b = append(b, make([]byte, 4*len(ids))...) // CRCs
	var large []byte
	for i := range ids {
		if i%7 == 0 {
			b = binary.BigEndian.AppendUint32(b, 0x80000000|uint32(len(large)/8))
			large = binary.BigEndian.AppendUint64(large, 1<<40+uint64(i))
		} else {
			b = binary.BigEndian.AppendUint32(b, 12+uint32(i))
		}
	}
	b = append(b, large...)
	b = append(b, make([]byte, 40)...)
	p := &packFile{idx: b}
	if err := p.parseIndex(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPackFileFindEveryID looks up every id of indexes whose ids are
// spread evenly, crowded into one first byte, or bunched so that a guess
// from the id's value lands far from its place; and ids next to each of
// them that the index lacks.
func TestPackFileFindEveryID(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	random := func() plumbing.Hash {
		var h plumbing.Hash
		for i := range h {
			h[i] = byte(rnd.UintN(256))
		}
		return h
	}
	for name, gen := range map[string]func(i int) plumbing.Hash{
		"uniform": func(int) plumbing.Hash { return random() },
		"one first byte": func(int) plumbing.Hash {
			h := random()
			h[0] = 0x42
			return h
		},
		"bunched": func(i int) plumbing.Hash {
			h := random()
			h[0] = 0x42
			if i%10 != 0 { // nine in ten in a sliver of the range
				h[1], h[2] = 0x80, byte(rnd.UintN(4))
			}
			return h
		},
		"equal prefixes": func(i int) plumbing.Hash {
			h := random()
			h[0] = 0x42
			copy(h[1:9], []byte{1, 2, 3, 4, 5, 6, 7, byte(i % 3)}) // decided by the bytes after the first 8
			return h
		},
	} {
		t.Run(name, func(t *testing.T) {
			var ids []plumbing.Hash
			for i := range 60000 {
				ids = append(ids, gen(i))
			}
			p := indexOf(t, ids)
			ids = ids[:p.n]
			for i, h := range ids {
				want := 12 + uint64(i)
				if i%7 == 0 {
					want = 1<<40 + uint64(i)
				}
				if off, ok := p.find(h); !ok || off != want {
					t.Fatalf("find(%s) = %d, %v; want %d (entry %d)", h, off, ok, want, i)
				}
				for _, d := range []int{-1, 1} {
					m := h
					m[19] += byte(d)
					if _, found := slices.BinarySearchFunc(ids, m, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) }); found {
						continue
					}
					if off, ok := p.find(m); ok {
						t.Fatalf("find(%s), not in the index, = %d", m, off)
					}
				}
			}
		})
	}
}
