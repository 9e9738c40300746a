package merge

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// TestMergeBasesWithGrafts: with a graft table (the mirror's rollbacks: a
// commit read as having one parent, an ancestor of its own first parent),
// merge bases and ancestry agree with git's on the same history with the
// grafts made by `git replace --graft`, whether the grafted commits are in
// the commit-graph (whose parent positions must then not be followed),
// in a layer of a chain, or there is no commit-graph at all.
func TestMergeBasesWithGrafts(t *testing.T) {
	requireGit(t)
	rng := rand.New(rand.NewPCG(*basesSeed, 0x6a09e667f3bcc908))
	modes := []mbGraphMode{mbGraphNone, mbGraphFull, mbGraphChain, mbGraphOurs}
	var pairs, changed int
	for d := 0; d < 8; d++ {
		size := 60 + rng.IntN(200)
		nodes := mbRandomDAG(rng, size, mbDatesMonotone)
		r := mbBuildRepo(t, nodes)
		mode := modes[d%len(modes)]
		mode.writeGraph(t, r.dir, r.storer, r.hashes)

		// graft a few commits onto an ancestor of their first parent
		grafted := slices.Clone(nodes)
		table := map[plumbing.Hash]plumbing.Hash{}
		for k := 0; k < 1+size/30; k++ {
			c := size/3 + rng.IntN(size-size/3)
			if len(nodes[c].parents) == 0 {
				continue
			}
			p := nodes[c].parents[0]
			for steps := rng.IntN(6); steps > 0 && len(nodes[p].parents) > 0; steps-- {
				p = nodes[p].parents[rng.IntN(len(nodes[p].parents))]
			}
			if slices.Equal(nodes[c].parents, []int{p}) {
				continue // no graft: its own parents
			}
			grafted[c] = mbNode{parents: []int{p}, date: nodes[c].date}
			table[r.hashes[c]] = r.hashes[p]
		}
		for c, p := range table {
			mbGit(t, r.dir, nil, "replace", "--graft", c.String(), p.String())
		}

		g := newCommitGraph(r.storer)
		if (g.file != nil) != (mode != mbGraphNone) {
			t.Fatalf("dag %d (%s): commit-graph read: %v", d, mode, g.file != nil)
		}
		if g.file != nil {
			inFile := 0
			for c := range table {
				if _, ok := g.file.lookup(c); ok {
					inFile++
				}
			}
			if inFile == 0 {
				t.Fatalf("dag %d (%s): no grafted commit is in the commit-graph: the test tests nothing", d, mode)
			}
		}
		g.setGrafts(table)
		ctx := context.Background()
		for k := 0; k < 30; k++ {
			a, b := size-1-rng.IntN(min(size, 40)), rng.IntN(size)
			want := r.gitMergeBases(t, r.hashes[a], r.hashes[b])
			got, err := g.mergeBases(ctx, r.hashes[a], r.hashes[b])
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("dag %d (%s): mergeBases(c%d, c%d) = %v, git with the grafts says %v", d, mode, a, b, r.names(got), r.names(want))
			}
			if exact, _ := mbTrueBases(nodes, a, b); !slices.Equal(exact, sortedIndexes(r, want)) {
				changed++ // the grafts made a difference here
			}
			for _, xy := range [][2]int{{a, b}, {b, a}} {
				want := r.gitIsAncestor(t, r.hashes[xy[0]], r.hashes[xy[1]])
				ok, err := g.isAncestor(ctx, r.hashes[xy[0]], r.hashes[xy[1]])
				if err != nil {
					t.Fatal(err)
				}
				if ok != want {
					t.Errorf("dag %d (%s): isAncestor(c%d, c%d) = %v, git with the grafts says %v", d, mode, xy[0], xy[1], ok, want)
				}
				if _, truth := mbTrueBases(grafted, xy[0], xy[1]); ok != truth {
					t.Errorf("dag %d (%s): isAncestor(c%d, c%d) = %v, reachability through the grafts says %v", d, mode, xy[0], xy[1], ok, truth)
				}
			}
			pairs++
		}
		if t.Failed() {
			t.Fatalf("stopping after dag %d", d)
		}
	}
	if changed == 0 {
		t.Fatal("the grafts changed no merge base: the test tests nothing")
	}
	t.Logf("%d pairs match git with the grafts; the grafts changed the merge bases of %d", pairs, changed)
}

func sortedIndexes(r *mbRepo, hs []plumbing.Hash) []int {
	out := make([]int, 0, len(hs))
	for _, h := range hs {
		out = append(out, r.index[h])
	}
	slices.Sort(out)
	return out
}
