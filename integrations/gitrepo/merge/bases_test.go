package merge

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

var (
	basesN    = flag.Int("bases.n", 32, "number of random DAGs in TestMergeBasesMatchGit")
	basesSeed = flag.Uint64("bases.seed", 20240611, "seed of TestMergeBasesMatchGit's random DAGs")
)

// ---- building repositories with the git CLI ----

// mbGit runs git with the pinned environment; it returns stdout and the exit code.
func mbGit(tb testing.TB, gitDir string, stdin []byte, args ...string) (string, int) {
	tb.Helper()
	cmd := exec.Command("git", append([]string{"--git-dir=" + gitDir}, args...)...)
	cmd.Env = gitEnv(gitDir)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			tb.Fatalf("git %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	if stderr.Len() > 0 {
		tb.Fatalf("git %v: exit %d: %s", args, code, stderr.String())
	}
	return stdout.String(), code
}

// mbNode is one commit of a test history: indexes of its parents (earlier
// nodes) and its committer/author date (Unix seconds).
type mbNode struct {
	parents []int
	date    int64
}

// mbRepo is a bare repository built from a []mbNode.
type mbRepo struct {
	dir    string
	hashes []plumbing.Hash
	index  map[plumbing.Hash]int
	storer storer.EncodedObjectStorer
}

// mbBuildRepo writes the DAG with one `git fast-import` run (each commit also
// sets file f to its index, so trees differ) and opens it with go-git.
func mbBuildRepo(tb testing.TB, nodes []mbNode) *mbRepo {
	tb.Helper()
	requireGit(tb)
	dir := filepath.Join(tb.TempDir(), "repo.git")
	mbGit(tb, dir, nil, "init", "-q", "--bare", dir)
	var s bytes.Buffer
	for i, n := range nodes {
		if len(n.parents) == 0 {
			s.WriteString("reset refs/heads/b\n")
		}
		msg := fmt.Sprintf("c%d\n", i)
		content := fmt.Sprintf("%d\n", i)
		fmt.Fprintf(&s, "commit refs/heads/b\nmark :%d\nauthor A <a@example.com> %d +0000\ncommitter C <c@example.com> %d +0000\ndata %d\n%s",
			i+1, n.date, n.date, len(msg), msg)
		for k, p := range n.parents {
			if k == 0 {
				fmt.Fprintf(&s, "from :%d\n", p+1)
			} else {
				fmt.Fprintf(&s, "merge :%d\n", p+1)
			}
		}
		fmt.Fprintf(&s, "M 644 inline f\ndata %d\n%s\n", len(content), content)
	}
	// A ref on every commit without children, so that all commits are
	// reachable (a gc would otherwise make the others loose objects).
	hasChild := make([]bool, len(nodes))
	for _, n := range nodes {
		for _, p := range n.parents {
			hasChild[p] = true
		}
	}
	for i := range nodes {
		if !hasChild[i] {
			fmt.Fprintf(&s, "reset refs/heads/tip%d\nfrom :%d\n\n", i, i+1)
		}
	}
	marks := filepath.Join(filepath.Dir(dir), "marks")
	mbGit(tb, dir, s.Bytes(), "fast-import", "--quiet", "--export-marks="+marks)
	raw, err := os.ReadFile(marks)
	if err != nil {
		tb.Fatal(err)
	}
	r := &mbRepo{dir: dir, hashes: make([]plumbing.Hash, len(nodes)), index: map[plumbing.Hash]int{}}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		mark, hash, ok := strings.Cut(line, " ")
		m, err := strconv.Atoi(strings.TrimPrefix(mark, ":"))
		if !ok || err != nil || m < 1 || m > len(nodes) {
			tb.Fatalf("bad marks line %q", line)
		}
		r.hashes[m-1] = plumbing.NewHash(hash)
		r.index[r.hashes[m-1]] = m - 1
	}
	r.storer = mbOpen(tb, dir)
	return r
}

func (r *mbRepo) names(hs []plumbing.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		if n, ok := r.index[h]; ok {
			out[i] = fmt.Sprintf("c%d", n)
		} else {
			out[i] = h.String()
		}
	}
	return out
}

// mbOpen opens a repository the way the mirrors do in production (bound OS
// filesystem, exclusive access, pack descriptors kept open, an LRU cache).
func mbOpen(tb testing.TB, dir string) *filesystem.Storage {
	st := filesystem.NewStorageWithOptions(osfs.New(dir, osfs.WithBoundOS()), cache.NewObjectLRUDefault(),
		filesystem.Options{ExclusiveAccess: true, KeepDescriptors: true})
	tb.Cleanup(func() { st.Close() })
	return st
}

// gitMergeBases runs `git merge-base --all a b`.
func (r *mbRepo) gitMergeBases(tb testing.TB, a, b plumbing.Hash) []plumbing.Hash {
	out, code := mbGit(tb, r.dir, nil, "merge-base", "--all", a.String(), b.String())
	if code != 0 && (code != 1 || out != "") {
		tb.Fatalf("git merge-base --all %s %s: exit %d", a, b, code)
	}
	hs := []plumbing.Hash{}
	for _, f := range strings.Fields(out) {
		hs = append(hs, plumbing.NewHash(f))
	}
	return hs
}

// gitIsAncestor runs `git merge-base --is-ancestor a b`.
func (r *mbRepo) gitIsAncestor(tb testing.TB, a, b plumbing.Hash) bool {
	_, code := mbGit(tb, r.dir, nil, "merge-base", "--is-ancestor", a.String(), b.String())
	if code > 1 {
		tb.Fatalf("git merge-base --is-ancestor: exit %d", code)
	}
	return code == 0
}

// ---- commit-graph files ----

// mbGraphMode is which commit-graph the repository has when merge bases
// are compared with git's: git reads the same file as the engine.
type mbGraphMode int

const (
	mbGraphNone    mbGraphMode = iota // no commit-graph: date-ordered walks
	mbGraphFull                       // git commit-graph write --reachable (corrected commit dates)
	mbGraphV1                         // topological levels only (commitGraph.generationVersion=1)
	mbGraphPartial                    // the older half of the commits only: the rest have no generation
	mbGraphChain                      // a split chain of two layers
	mbGraphOurs                       // written by WriteCommitGraph
	mbNumGraphModes
)

func (m mbGraphMode) String() string {
	return [...]string{"no graph", "graph", "v1 graph", "partial graph", "graph chain", "our graph"}[m]
}

// writeGraph gives the repository at dir the commit-graph of mode (the
// commits are hashes, oldest first) and checks it with git commit-graph
// verify.
func (m mbGraphMode) writeGraph(tb testing.TB, dir string, st storer.EncodedObjectStorer, hashes []plumbing.Hash) {
	tb.Helper()
	for _, p := range []string{"objects/info/commit-graph", "objects/info/commit-graphs"} {
		if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
			tb.Fatal(err)
		}
	}
	lines := func(hs []plumbing.Hash) []byte {
		var b bytes.Buffer
		for _, h := range hs {
			b.WriteString(h.String() + "\n")
		}
		return b.Bytes()
	}
	switch m {
	case mbGraphNone:
		return
	case mbGraphFull:
		mbGit(tb, dir, lines(hashes), "commit-graph", "write", "--no-progress", "--stdin-commits")
	case mbGraphV1:
		mbGit(tb, dir, lines(hashes), "-c", "commitGraph.generationVersion=1", "commit-graph", "write", "--no-progress", "--stdin-commits")
	case mbGraphPartial:
		mbGit(tb, dir, lines(hashes[:len(hashes)/2]), "commit-graph", "write", "--no-progress", "--stdin-commits")
	case mbGraphChain:
		mbGit(tb, dir, lines(hashes[:len(hashes)/2]), "commit-graph", "write", "--no-progress", "--stdin-commits", "--split")
		mbGit(tb, dir, lines(hashes), "commit-graph", "write", "--no-progress", "--stdin-commits", "--split=no-merge")
		if _, err := os.Stat(filepath.Join(dir, "objects/info/commit-graphs/commit-graph-chain")); err != nil {
			tb.Fatalf("no chain written: %v", err)
		}
	case mbGraphOurs:
		n, err := WriteCommitGraph(context.Background(), st, hashes, 0)
		if err != nil {
			tb.Fatal(err)
		}
		if n == 0 {
			tb.Fatal("WriteCommitGraph wrote no commits")
		}
	}
	mbGit(tb, dir, nil, "commit-graph", "verify", "--no-progress")
}

// ---- random DAGs ----

type mbDateMode int

const (
	mbDatesMonotone mbDateMode = iota // child ≥ parents, many equal dates
	mbDatesSkewed                     // mostly monotone, 25% of commits older than a parent
	mbDatesRandom                     // dates unrelated to the graph
	mbDatesEqual                      // every commit has the same date
	mbNumDateModes
)

func (m mbDateMode) String() string {
	return [...]string{"monotone", "skewed", "random", "equal"}[m]
}

// mbRandomDAG builds a history with branches that fork from any earlier commit,
// two-parent merges of tips or arbitrary commits (criss-crosses appear
// naturally), octopus merges, extra roots and long linear stretches.
func mbRandomDAG(rng *rand.Rand, size int, mode mbDateMode) []mbNode {
	const base = 1_600_000_000
	nodes := make([]mbNode, 0, size)
	tips := []int{}
	rootProb := []float64{0.01, 0.03, 0.08}[rng.IntN(3)]
	mergeProb := []float64{0.1, 0.25, 0.4}[rng.IntN(3)]
	for i := 0; i < size; i++ {
		var parents []int
		switch x := rng.Float64(); {
		case i == 0 || x < rootProb:
			tips = append(tips, i)
		case x < rootProb+mergeProb && i >= 2:
			k := 2
			if rng.IntN(8) == 0 {
				k += 1 + rng.IntN(3) // octopus
			}
			for len(parents) < k && len(parents) < i {
				var p int
				if rng.IntN(3) > 0 && len(tips) > 0 {
					p = tips[rng.IntN(len(tips))]
				} else {
					p = rng.IntN(i)
				}
				if !slices.Contains(parents, p) {
					parents = append(parents, p)
				}
			}
			t := rng.IntN(len(tips))
			tips[t] = i
		case x < rootProb+mergeProb+0.1:
			parents = []int{rng.IntN(i)} // fork from anywhere
			tips = append(tips, i)
		default:
			t := rng.IntN(len(tips))
			parents = []int{tips[t]}
			tips[t] = i
		}
		if len(tips) > 12 {
			tips = tips[len(tips)-12:]
		}
		var date int64
		maxp := int64(base)
		for _, p := range parents {
			maxp = max(maxp, nodes[p].date)
		}
		switch mode {
		case mbDatesMonotone:
			date = maxp + int64(rng.IntN(3))
		case mbDatesSkewed:
			if rng.IntN(4) == 0 {
				date = maxp - int64(rng.IntN(40))
			} else {
				date = maxp + int64(rng.IntN(4))
			}
		case mbDatesRandom:
			date = base + int64(rng.IntN(200))
		case mbDatesEqual:
			date = base
		}
		nodes = append(nodes, mbNode{parents: parents, date: date})
	}
	return nodes
}

// mbTrueBases computes the mathematically best common ancestors (for
// reporting how often git's date-ordered walk differs from them).
func mbTrueBases(nodes []mbNode, a, b int) (bases []int, aInB bool) {
	words := (len(nodes) + 63) / 64
	anc := make([][]uint64, len(nodes))
	for i, n := range nodes {
		set := make([]uint64, words)
		set[i/64] |= 1 << (i % 64)
		for _, p := range n.parents {
			for w := range set {
				set[w] |= anc[p][w]
			}
		}
		anc[i] = set
	}
	has := func(set []uint64, i int) bool { return set[i/64]&(1<<(i%64)) != 0 }
	var common []int
	for i := range nodes {
		if has(anc[a], i) && has(anc[b], i) {
			common = append(common, i)
		}
	}
	for _, c := range common {
		best := true
		for _, d := range common {
			if d != c && has(anc[d], c) {
				best = false
				break
			}
		}
		if best {
			bases = append(bases, c)
		}
	}
	return bases, has(anc[b], a)
}

// TestMergeBasesMatchGit is the differential test: random DAGs, random pairs,
// our mergeBases and isAncestor against `git merge-base --all` and
// `git merge-base --is-ancestor`. Longer runs: -bases.n=500 -bases.seed=N.
func TestMergeBasesMatchGit(t *testing.T) {
	requireGit(t)
	rng := rand.New(rand.NewPCG(*basesSeed, *basesSeed^0x9e3779b97f4a7c15))
	var pairs, multi, none, ties, skewedMulti, ancestorChecks int
	graphs := map[mbGraphMode]int{}
	for d := 0; d < *basesN; d++ {
		size := 20 + rng.IntN(280)
		if d%10 == 9 {
			size = 600 + rng.IntN(400)
		}
		mode := mbDateMode(d % int(mbNumDateModes))
		graph := mbGraphMode(d % int(mbNumGraphModes))
		nodes := mbRandomDAG(rng, size, mode)
		r := mbBuildRepo(t, nodes)
		graph.writeGraph(t, r.dir, r.storer, r.hashes)
		g := newCommitGraph(r.storer)
		if (g.file != nil) != (graph != mbGraphNone) {
			t.Fatalf("dag %d (%s): commit-graph read: %v", d, graph, g.file != nil)
		}
		graphs[graph]++
		ctx := context.Background()

		type pair struct{ a, b int }
		var ps []pair
		for k := 0; k < 40; k++ {
			a, b := rng.IntN(size), rng.IntN(size)
			if k%3 == 0 { // bias towards late commits (tips): bigger walks
				a, b = size-1-rng.IntN(min(size, 20)), size-1-rng.IntN(min(size, 20))
			}
			if k == 0 {
				b = a
			}
			ps = append(ps, pair{a, b})
		}
		type gitAnswer struct {
			bases      []plumbing.Hash
			aInB, bInA bool
		}
		answers := make([]gitAnswer, len(ps))
		var wg sync.WaitGroup
		sem := make(chan struct{}, 2*runtime.GOMAXPROCS(0))
		for i, p := range ps {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				a, b := r.hashes[p.a], r.hashes[p.b]
				answers[i] = gitAnswer{r.gitMergeBases(t, a, b), r.gitIsAncestor(t, a, b), r.gitIsAncestor(t, b, a)}
			}()
		}
		wg.Wait()

		for i, p := range ps {
			a, b := r.hashes[p.a], r.hashes[p.b]
			want := answers[i]
			got, err := g.mergeBases(ctx, a, b)
			if err != nil {
				t.Fatalf("dag %d (%s, %d commits): mergeBases(c%d, c%d): %v", d, mode, size, p.a, p.b, err)
			}
			if !slices.Equal(got, want.bases) {
				t.Errorf("dag %d (%s, %s, %d commits, seed %d): mergeBases(c%d, c%d) = %v, git says %v",
					d, mode, graph, size, *basesSeed, p.a, p.b, r.names(got), r.names(want.bases))
			}
			for _, c := range []struct {
				x, y int
				want bool
			}{{p.a, p.b, want.aInB}, {p.b, p.a, want.bInA}} {
				ok, err := g.isAncestor(ctx, r.hashes[c.x], r.hashes[c.y])
				if err != nil {
					t.Fatalf("isAncestor: %v", err)
				}
				if ok != c.want {
					t.Errorf("dag %d (%s, %s): isAncestor(c%d, c%d) = %v, git says %v", d, mode, graph, c.x, c.y, ok, c.want)
				}
				_, truth := mbTrueBases(nodes, c.x, c.y)
				if ok != truth {
					t.Errorf("dag %d (%s): isAncestor(c%d, c%d) = %v, reachability says %v", d, mode, c.x, c.y, ok, truth)
				}
				ancestorChecks++
			}
			pairs++
			switch {
			case len(got) == 0:
				none++
			case len(got) > 1:
				multi++
			}
			// git's set is always the exact set of best common ancestors
			// (the date-ordered walk only changes the order of equal-dated
			// bases and how far it walks); check that too.
			exact, _ := mbTrueBases(nodes, p.a, p.b)
			var gotIdx []int
			dates := map[int64]bool{}
			for _, h := range got {
				gotIdx = append(gotIdx, r.index[h])
				dates[nodes[r.index[h]].date] = true
			}
			slices.Sort(gotIdx)
			if !slices.Equal(gotIdx, exact) {
				t.Errorf("dag %d (%s): mergeBases(c%d, c%d) = %v, exact best common ancestors are %v",
					d, mode, p.a, p.b, r.names(got), exact)
			}
			if len(dates) < len(got) {
				ties++
			}
			if mode != mbDatesMonotone && mode != mbDatesEqual && len(got) > 1 {
				skewedMulti++
			}
		}
		if t.Failed() {
			t.Fatalf("stopping after dag %d", d)
		}
	}
	t.Logf("%d DAGs, %d pairs match git merge-base --all (set and order): %d with several bases, %d unrelated; "+
		"%d with several bases of equal date (order decided by the walk), %d with several bases under clock skew; "+
		"%d isAncestor checks match git; DAGs per commit-graph: %v",
		*basesN, pairs, multi, none, ties, skewedMulti, ancestorChecks, graphs)
}

// ---- named shapes ----

func TestMergeBasesShapes(t *testing.T) {
	requireGit(t)
	const T = 1_700_000_000
	type check struct {
		a, b int
		want []int // expected bases in order
	}
	cases := []struct {
		name   string
		nodes  []mbNode
		checks []check
	}{
		{
			name:  "linear",
			nodes: []mbNode{{nil, T}, {[]int{0}, T + 1}, {[]int{1}, T + 2}},
			checks: []check{
				{0, 2, []int{0}}, {2, 0, []int{0}}, {1, 1, []int{1}}, {2, 2, []int{2}},
			},
		},
		{
			name:  "fork",
			nodes: []mbNode{{nil, T}, {[]int{0}, T + 1}, {[]int{0}, T + 2}, {[]int{1}, T + 3}},
			checks: []check{
				{3, 2, []int{0}}, {2, 3, []int{0}},
			},
		},
		{
			// 0 -> 1, 2; 3 = merge(1,2); 4 = merge(2,1); 5 on 3; 6 on 4.
			name: "criss-cross, newer base first",
			nodes: []mbNode{
				{nil, T}, {[]int{0}, T + 10}, {[]int{0}, T + 20},
				{[]int{1, 2}, T + 30}, {[]int{2, 1}, T + 31}, {[]int{3}, T + 40}, {[]int{4}, T + 41},
			},
			checks: []check{
				{5, 6, []int{2, 1}}, {6, 5, []int{2, 1}}, {3, 4, []int{2, 1}},
			},
		},
		{
			name: "criss-cross, equal dates keep discovery order",
			nodes: []mbNode{
				{nil, T}, {[]int{0}, T + 10}, {[]int{0}, T + 10},
				{[]int{1, 2}, T + 30}, {[]int{2, 1}, T + 30},
			},
			checks: []check{{3, 4, nil}, {4, 3, nil}}, // order from git
		},
		{
			name:   "unrelated",
			nodes:  []mbNode{{nil, T}, {[]int{0}, T + 1}, {nil, T + 2}, {[]int{2}, T + 3}},
			checks: []check{{1, 3, []int{}}, {3, 1, []int{}}, {0, 2, []int{}}},
		},
		{
			name: "octopus",
			nodes: []mbNode{
				{nil, T}, {[]int{0}, T + 1}, {[]int{0}, T + 2}, {[]int{0}, T + 3},
				{[]int{1, 2, 3}, T + 4}, {[]int{3}, T + 5},
			},
			checks: []check{{4, 5, []int{3}}, {4, 2, []int{2}}, {1, 5, []int{0}}},
		},
		{
			name: "two roots merged",
			nodes: []mbNode{
				{nil, T}, {nil, T + 1}, {[]int{0, 1}, T + 2}, {[]int{1}, T + 3}, {[]int{0}, T + 4},
			},
			checks: []check{{2, 3, []int{1}}, {2, 4, []int{0}}, {3, 4, []int{}}},
		},
		{
			// A child older than its parent.
			name: "clock skew",
			nodes: []mbNode{
				{nil, T}, {[]int{0}, T + 100}, {[]int{1}, T + 5}, {[]int{1}, T + 200}, {[]int{2}, T + 6},
			},
			checks: []check{{4, 3, []int{1}}, {2, 3, []int{1}}},
		},
	}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := mbBuildRepo(t, tc.nodes)
			g := newCommitGraph(r.storer)
			for _, c := range tc.checks {
				a, b := r.hashes[c.a], r.hashes[c.b]
				got, err := g.mergeBases(ctx, a, b)
				if err != nil {
					t.Fatal(err)
				}
				if got == nil {
					t.Errorf("mergeBases(c%d, c%d) = nil, want a non-nil slice", c.a, c.b)
				}
				want := r.gitMergeBases(t, a, b)
				if !slices.Equal(got, want) {
					t.Errorf("mergeBases(c%d, c%d) = %v, git says %v", c.a, c.b, r.names(got), r.names(want))
				}
				if c.want != nil {
					var wh []plumbing.Hash
					for _, i := range c.want {
						wh = append(wh, r.hashes[i])
					}
					if !slices.Equal(got, wh) && !(len(got) == 0 && len(wh) == 0) {
						t.Errorf("mergeBases(c%d, c%d) = %v, want %v", c.a, c.b, r.names(got), r.names(wh))
					}
				}
				for _, xy := range [][2]int{{c.a, c.b}, {c.b, c.a}} {
					ok, err := g.isAncestor(ctx, r.hashes[xy[0]], r.hashes[xy[1]])
					if err != nil {
						t.Fatal(err)
					}
					if want := r.gitIsAncestor(t, r.hashes[xy[0]], r.hashes[xy[1]]); ok != want {
						t.Errorf("isAncestor(c%d, c%d) = %v, git says %v", xy[0], xy[1], ok, want)
					}
				}
			}
		})
	}
}

// TestCommitParsing checks tree, parents and date against git, and the
// error for hashes that are missing or not commits.
func TestCommitParsing(t *testing.T) {
	const T = 1_700_000_000
	r := mbBuildRepo(t, []mbNode{{nil, T}, {[]int{0}, T - 50}, {[]int{0, 1}, T + 7}})
	g := newCommitGraph(r.storer)
	ctx := context.Background()
	for i, h := range r.hashes {
		c, err := g.commit(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		tree, _ := mbGit(t, r.dir, nil, "rev-parse", h.String()+"^{tree}")
		if c.tree.String() != strings.TrimSpace(tree) {
			t.Errorf("c%d tree = %s, git says %s", i, c.tree, tree)
		}
		ps, _ := mbGit(t, r.dir, nil, "show", "-s", "--format=%P %ct", h.String())
		f := strings.Fields(ps)
		var wantParents []plumbing.Hash
		for _, p := range f[:len(f)-1] {
			wantParents = append(wantParents, plumbing.NewHash(p))
		}
		if !slices.Equal(c.parents, wantParents) {
			t.Errorf("c%d parents = %v, git says %v", i, c.parents, wantParents)
		}
		if strconv.FormatUint(c.date, 10) != f[len(f)-1] {
			t.Errorf("c%d date = %d, git says %s", i, c.date, f[len(f)-1])
		}
		if got := c.committerTime().Unix(); uint64(got) != c.date {
			t.Errorf("committerTime = %d", got)
		}
	}

	blob, _ := mbGit(t, r.dir, nil, "rev-parse", r.hashes[2].String()+":f")
	tree, _ := mbGit(t, r.dir, nil, "rev-parse", r.hashes[2].String()+"^{tree}")
	missing := plumbing.NewHash("1234567890abcdef1234567890abcdef12345678")
	for _, tc := range []struct {
		name    string
		h       plumbing.Hash
		is      error
		message string
	}{
		{"missing", missing, plumbing.ErrObjectNotFound, "read commit " + missing.String() + ": object not found"},
		{"blob", plumbing.NewHash(strings.TrimSpace(blob)), errObjectNotCommit, "object is a blob: not a commit"},
		{"tree", plumbing.NewHash(strings.TrimSpace(tree)), errObjectNotCommit, "object is a tree: not a commit"},
		{"zero", plumbing.ZeroHash, nil, "read commit " + plumbing.ZeroHash.String() + ": zero hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s: no error", what)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("%s: %v is not %v", what, err, tc.is)
				}
				if !strings.Contains(err.Error(), tc.message) || !strings.Contains(err.Error(), tc.h.String()) {
					t.Errorf("%s: error %q, want it to contain %q and the hash", what, err, tc.message)
				}
			}
			_, err := g.commit(ctx, tc.h)
			check("commit", err)
			_, err = g.mergeBases(ctx, r.hashes[2], tc.h)
			check("mergeBases", err)
			_, err = g.mergeBases(ctx, tc.h, r.hashes[2])
			check("mergeBases", err)
			_, err = g.isAncestor(ctx, tc.h, r.hashes[2])
			check("isAncestor", err)
		})
	}
}

func TestParseCommitDate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
	}{
		{"author A <a> 5 +0000\ncommitter C <c> 1234 +0100\n\nmsg", 1234},
		{"author A <a> 5 +0000\ncommitter C <c>   77 +0100\n\n", 77},
		{"author A <a> 5 +0000\ncommitter C <c> 1234 +0100\n", 0}, // nothing after the line
		{"committer C <c> 1234 +0100\n\n", 0},                     // no author line
		{"author A <a> 5 +0000\nfoo C <c> 1234 +0100\n\n", 0},
		{"author A <a> 5 +0000\ncommitter C <c> -1 +0000\n\n", 1<<64 - 1},
		{"author A <a> 5 +0000\ncommitter C <c> 99999999999999999999999 +0000\n\n", 1<<64 - 1},
		{"author A <a> 5 +0000\ncommitter C <c> x +0000\n\n", 0},
		{"author A <a> 5 +0000\ncommitter C no email 12\n\n", 0},
	} {
		if got := parseCommitDate([]byte(tc.in)); got != tc.want {
			t.Errorf("parseCommitDate(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	h := plumbing.NewHash("1234567890abcdef1234567890abcdef12345678")
	for _, bad := range []string{"", "tree 12\n", "parent " + h.String() + "\n", "tree " + h.String() + "\nparent xyz" + strings.Repeat("0", 37) + "\n\n"} {
		if _, err := parseGraphCommit(h, []byte(bad)); err == nil {
			t.Errorf("parseGraphCommit(%q): no error", bad)
		}
	}
}

// TestMergeBasesConcurrentAndCancel shares one graph between goroutines (run
// with -race) and checks that a cancelled context stops a walk.
func TestMergeBasesConcurrentAndCancel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	nodes := mbRandomDAG(rng, 1500, mbDatesMonotone)
	r := mbBuildRepo(t, nodes)
	g := newCommitGraph(r.storer)
	ctx := context.Background()
	want := make([][]plumbing.Hash, 20)
	ref := newCommitGraph(r.storer)
	for i := range want {
		var err error
		if want[i], err = ref.mergeBases(ctx, r.hashes[len(nodes)-1-i], r.hashes[len(nodes)/2+i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range want {
				i = (i + w) % len(want)
				got, err := g.mergeBases(ctx, r.hashes[len(nodes)-1-i], r.hashes[len(nodes)/2+i])
				if err != nil || !slices.Equal(got, want[i]) {
					t.Errorf("concurrent mergeBases = %v, %v; want %v", got, err, want[i])
				}
			}
		}()
	}
	wg.Wait()

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for _, gr := range []*commitGraph{g, newCommitGraph(r.storer)} { // warm and cold cache
		if _, err := gr.mergeBases(cctx, r.hashes[len(nodes)-1], r.hashes[1]); !errors.Is(err, context.Canceled) {
			t.Errorf("mergeBases with a cancelled context: %v", err)
		}
	}
}

// TestVirtualCommit: a virtual commit behaves like a real commit with the
// same parents and date 0 (what merge-ort's make_virtual_commit gives).
func TestVirtualCommit(t *testing.T) {
	const T = 1_700_000_000
	nodes := []mbNode{
		{nil, T}, {[]int{0}, T + 10}, {[]int{0}, T + 20},
		{[]int{1, 2}, T + 30}, {[]int{2, 1}, T + 31}, {[]int{3}, T + 40}, {[]int{4}, T + 41},
		{[]int{1, 2}, 0}, // the "real" twin of the virtual commit
		{[]int{6}, T + 50},
	}
	r := mbBuildRepo(t, nodes)
	g := newCommitGraph(r.storer)
	ctx := context.Background()
	tree := plumbing.NewHash("4b825dc642cb6eb9a060e54bf8d69288fbc4904d")
	v, err := g.newVirtualCommit(ctx, tree, r.hashes[1], r.hashes[2])
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []int{5, 6, 8, 0, 1} {
		got, err := g.mergeBases(ctx, v, r.hashes[other])
		if err != nil {
			t.Fatal(err)
		}
		want := r.gitMergeBases(t, r.hashes[7], r.hashes[other])
		if !slices.Equal(got, want) {
			t.Errorf("mergeBases(virtual, c%d) = %v, git with a real twin says %v", other, r.names(got), r.names(want))
		}
	}
	c, err := g.commit(ctx, v)
	if err != nil || c.tree != tree || c.date != 0 || !c.virtual {
		t.Fatalf("virtual commit = %+v, %v", c, err)
	}
	g.forgetVirtualCommit(v)
	if _, err := g.commit(ctx, v); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Errorf("forgotten virtual commit: %v", err)
	}
}

// ---- benchmark ----

// mbBenchHistory is a 10,000-commit history: a main line with feature branches
// merged back, and a release branch forked early that gets its own commits
// and occasional merges of old main commits, so that the merge base of the
// two tips is far back and the walk covers most of the history.
func mbBenchHistory() (nodes []mbNode, mainTip, relTip int) {
	rng := rand.New(rand.NewPCG(42, 42))
	const T = 1_500_000_000
	date := int64(T)
	add := func(parents ...int) int {
		date += int64(1 + rng.IntN(60))
		nodes = append(nodes, mbNode{parents: parents, date: date})
		return len(nodes) - 1
	}
	mainTip = add()
	relTip = -1
	var features [][2]int // tip, length
	for len(nodes) < 10_000 {
		switch x := rng.IntN(100); {
		case len(nodes) == 800:
			relTip = add(mainTip)
		case relTip >= 0 && x < 12:
			relTip = add(relTip)
		case x < 30:
			features = append(features, [2]int{add(mainTip), 1})
		case x < 55 && len(features) > 0:
			k := rng.IntN(len(features))
			features[k][0] = add(features[k][0])
			features[k][1]++
		case x < 65 && len(features) > 0:
			k := rng.IntN(len(features))
			mainTip = add(mainTip, features[k][0])
			features = slices.Delete(features, k, k+1)
		default:
			mainTip = add(mainTip)
		}
	}
	return nodes, mainTip, relTip
}

func BenchmarkMergeBases(b *testing.B) {
	nodes, mainTip, relTip := mbBenchHistory()
	r := mbBuildRepo(b, nodes)
	ma, rb := r.hashes[mainTip], r.hashes[relTip]
	mbGit(b, r.dir, nil, "repack", "-a", "-d", "-q") // one pack, as a clone has; no commit-graph file

	// git's own time for the same question (process start included).
	want := r.gitMergeBases(b, ma, rb)
	const gitRuns = 20
	start := time.Now()
	for range gitRuns {
		r.gitMergeBases(b, ma, rb)
	}
	gitNs := float64(time.Since(start).Nanoseconds()) / gitRuns

	st := mbOpen(b, r.dir) // after the gc: a fresh storage that sees the new pack
	ctx := context.Background()
	var err error
	b.Run("new-process", func(b *testing.B) { // fresh storage and graph each time, as a new git process
		var got []plumbing.Hash
		var loaded int
		for b.Loop() {
			st := filesystem.NewStorageWithOptions(osfs.New(r.dir, osfs.WithBoundOS()), cache.NewObjectLRUDefault(),
				filesystem.Options{ExclusiveAccess: true, KeepDescriptors: true})
			g := newCommitGraph(st)
			got, err = g.mergeBases(ctx, ma, rb)
			if err != nil {
				b.Fatal(err)
			}
			st.Close()
			loaded = g.commits.len()
		}
		if !slices.Equal(got, want) {
			b.Fatalf("mergeBases = %v, git says %v", got, want)
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(float64(loaded), "commits-read/op")
		b.ReportMetric(gitNs, "git-ns/op")
		b.ReportMetric(ns/gitNs, "x-git")
	})
	b.Run("cold", func(b *testing.B) { // a fresh graph each time; the storer (and its object cache) kept
		var got []plumbing.Hash
		for b.Loop() {
			got, err = newCommitGraph(st).mergeBases(ctx, ma, rb)
			if err != nil {
				b.Fatal(err)
			}
		}
		if !slices.Equal(got, want) {
			b.Fatalf("mergeBases = %v, git says %v", got, want)
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(gitNs, "git-ns/op")
		b.ReportMetric(ns/gitNs, "x-git")
	})
	b.Run("warm", func(b *testing.B) { // the cache filled by earlier merges
		g := newCommitGraph(st)
		if _, err := g.mergeBases(ctx, ma, rb); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := g.mergeBases(ctx, ma, rb); err != nil {
				b.Fatal(err)
			}
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(gitNs, "git-ns/op")
		b.ReportMetric(ns/gitNs, "x-git")
	})
	b.Run("go-git", func(b *testing.B) { // go-git's Commit.MergeBase, for comparison
		ca, err := object.GetCommit(st, ma)
		if err != nil {
			b.Fatal(err)
		}
		cb, err := object.GetCommit(st, rb)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := ca.MergeBase(cb); err != nil {
				b.Fatal(err)
			}
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(gitNs, "git-ns/op")
		b.ReportMetric(ns/gitNs, "x-git")
	})
}
