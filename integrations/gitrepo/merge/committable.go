package merge

// commitTable is a hash table of parsed commits, by id or by identity.
// A walk without a commit-graph parses every commit it reaches (all
// 60,000 of a git.git-sized history for maint and master), looks each up
// three times and inserts it twice (in the graph's cache and in the walk's
// refs); Go's maps spent about 15% of such a walk there, most of it
// growing (rehashing keys of 20 bytes into fresh tables). Commit ids are
// already uniformly spread: this table keeps 4 of their bytes with each
// entry (16 bytes a slot), probes linearly from the slot that those bytes
// times a per-table odd number pick, and grows by doubling when half
// full, as git's object hash table does.

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"

	"github.com/go-git/go-git/v5/plumbing"
)

type commitSlot struct {
	key uint32       // idKey(c.hash)
	ref uint32       // the value, for the tables that have one
	c   *graphCommit // nil: the slot is empty
}

type commitTable struct {
	slots []commitSlot // a power of two of them, or none
	n     int
	shift uint   // 64 - log2(len(slots))
	mul   uint64 // odd; chosen when the table is first made
}

const commitTableMin = 1 << 7 // 2 KiB: a short walk reads tens of commits

func idKey(h *plumbing.Hash) uint32 { return binary.LittleEndian.Uint32(h[:4]) }

func (t *commitTable) home(key uint32) int { return int((uint64(key) * t.mul) >> t.shift) }

// len is the number of commits in the table.
func (t *commitTable) len() int { return t.n }

// get returns the commit whose id is h, or nil.
func (t *commitTable) get(h *plumbing.Hash) *graphCommit {
	if i := t.indexOf(h); i >= 0 {
		return t.slots[i].c
	}
	return nil
}

// indexOf returns the slot of the commit whose id is h, or -1.
func (t *commitTable) indexOf(h *plumbing.Hash) int {
	if t.n == 0 {
		return -1
	}
	key := idKey(h)
	mask := len(t.slots) - 1
	for i := t.home(key); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.c == nil {
			return -1
		}
		if s.key == key && s.c.hash == *h {
			return i
		}
	}
}

// refOf returns the value stored with c itself (not another commit of its
// id), and whether there is one.
func (t *commitTable) refOf(c *graphCommit) (uint32, bool) {
	if t.n == 0 {
		return 0, false
	}
	key := idKey(&c.hash)
	mask := len(t.slots) - 1
	for i := t.home(key); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.c == nil {
			return 0, false
		}
		if s.c == c {
			return s.ref, true
		}
	}
}

// add puts c (with ref) in the table; the caller knows it is not there
// (by id for get, by identity for refOf).
func (t *commitTable) add(c *graphCommit, ref uint32) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	t.place(commitSlot{key: idKey(&c.hash), c: c, ref: ref})
	t.n++
}

func (t *commitTable) place(s commitSlot) {
	mask := len(t.slots) - 1
	i := t.home(s.key)
	for t.slots[i].c != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = s
}

func (t *commitTable) grow() {
	old := t.slots
	size := max(2*len(old), commitTableMin)
	t.slots = make([]commitSlot, size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	if t.mul == 0 {
		t.mul = rand.Uint64() | 1
	}
	for _, s := range old {
		if s.c != nil {
			t.place(s)
		}
	}
}

// remove takes the commit whose id is h out of the table, and returns it
// (nil when there is none).
func (t *commitTable) remove(h *plumbing.Hash) *graphCommit {
	hole := t.indexOf(h)
	if hole < 0 {
		return nil
	}
	c := t.slots[hole].c
	// Move back the entries after it that would no longer be found
	// (linear probing's deletion without markers).
	mask := len(t.slots) - 1
	for i := (hole + 1) & mask; t.slots[i].c != nil; i = (i + 1) & mask {
		home := t.home(t.slots[i].key)
		// The entry at i may fill the hole unless its home lies
		// cyclically in (hole, i].
		if (i-home)&mask >= (i-hole)&mask {
			t.slots[hole] = t.slots[i]
			hole = i
		}
	}
	t.slots[hole] = commitSlot{}
	t.n--
	return c
}
