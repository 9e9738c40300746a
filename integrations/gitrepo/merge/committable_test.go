package merge

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// TestCommitTable: the commit table finds what was added and not what was
// removed, by id and by identity, against a map doing the same, with ids
// that share their first bytes (long probe runs, removals inside them)
// and ids that do not, across growths.
func TestCommitTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 16))
	newID := func() plumbing.Hash {
		var h plumbing.Hash
		for i := 0; i < len(h); i += 4 {
			binary.LittleEndian.PutUint32(h[i:], rng.Uint32())
		}
		switch rng.IntN(4) {
		case 0: // the same 4 bytes the table keeps: one home slot
			copy(h[:4], "same")
		case 1: // a handful of keys
			binary.LittleEndian.PutUint32(h[:4], uint32(rng.IntN(8)))
		}
		return h
	}
	var tab, refs commitTable
	want := map[plumbing.Hash]*graphCommit{}
	wantRef := map[*graphCommit]uint32{}
	var ids []plumbing.Hash
	check := func(step int) {
		t.Helper()
		if tab.len() != len(want) {
			t.Fatalf("step %d: %d commits in the table, want %d", step, tab.len(), len(want))
		}
		for _, h := range ids {
			if got := tab.get(&h); got != want[h] {
				t.Fatalf("step %d: get(%s) = %p, want %p", step, h, got, want[h])
			}
		}
		for c, r := range wantRef {
			if got, ok := refs.refOf(c); !ok || got != r {
				t.Fatalf("step %d: refOf(%s) = %d, %v; want %d", step, c.hash, got, ok, r)
			}
		}
	}
	for step := 0; step < 6000; step++ {
		switch {
		case len(ids) > 0 && rng.IntN(3) == 0:
			h := ids[rng.IntN(len(ids))]
			got := tab.remove(&h)
			if got != want[h] {
				t.Fatalf("step %d: remove(%s) = %p, want %p", step, h, got, want[h])
			}
			delete(want, h)
		default:
			h := newID()
			ids = append(ids, h)
			c := &graphCommit{hash: h}
			if want[h] == nil {
				tab.add(c, 0)
				want[h] = c
			}
			// a second commit of the same id: another one for refOf
			twin := &graphCommit{hash: h}
			refs.add(c, uint32(step))
			refs.add(twin, uint32(step)+1)
			wantRef[c], wantRef[twin] = uint32(step), uint32(step)+1
		}
		if step%500 == 0 {
			check(step)
		}
	}
	check(-1)
	if _, ok := refs.refOf(&graphCommit{hash: ids[0]}); ok {
		t.Error("refOf finds a commit that was never added, by its id")
	}
}
