package merge

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
)

// benchRepo is a generated repository of benchFiles files and benchCommits
// commits, with benchPairs branch pairs to merge.
const (
	benchFiles   = 10000
	benchCommits = 10000
	benchPairs   = 20
)

// makeBenchRepo writes the repository with git fast-import: a linear
// history of small edits, then pairs of branches that each change a
// handful of files (some pairs touching the same file, some renaming).
func makeBenchRepo(b *testing.B) (dir string, pairs [][2]string) {
	b.Helper()
	requireGit(b)
	dir = b.TempDir()
	gitCmd(b, dir, nil, "init", "-q", "--bare")
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = dir
	cmd.Env = gitEnv(dir)
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(in, 1<<20)
	r := rand.New(rand.NewPCG(42, 42))
	content := func(i, v int) string {
		var sb strings.Builder
		for l := 0; l < 30; l++ {
			fmt.Fprintf(&sb, "file %d line %d version %d\n", i, l, v)
		}
		return sb.String()
	}
	pathOf := func(i int) string {
		return fmt.Sprintf("stacks/d%02d/s%03d/file%05d.yml", i%50, (i/50)%20, i)
	}
	mark := 0
	when := int64(1_600_000_000)
	commit := func(ref string, from int, files map[string]string, deletes []string) int {
		mark++
		when += 60
		fmt.Fprintf(w, "commit %s\nmark :%d\ncommitter t <t@example.com> %d +0000\ndata 2\nc\n", ref, mark, when)
		if from > 0 {
			fmt.Fprintf(w, "from :%d\n", from)
		}
		for _, d := range deletes {
			fmt.Fprintf(w, "D %s\n", d)
		}
		for p, c := range files {
			fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", p, len(c), c)
		}
		return mark
	}
	first := map[string]string{}
	for i := 0; i < benchFiles; i++ {
		first[pathOf(i)] = content(i, 0)
	}
	tip := commit("refs/heads/master", 0, first, nil)
	version := map[int]int{}
	for c := 1; c < benchCommits-2*benchPairs*5; c++ {
		edits := map[string]string{}
		for k := r.IntN(3) + 1; k > 0; k-- {
			i := r.IntN(benchFiles)
			version[i]++
			edits[pathOf(i)] = content(i, version[i])
		}
		tip = commit("refs/heads/master", tip, edits, nil)
	}
	for p := 0; p < benchPairs; p++ {
		for side := 0; side < 2; side++ {
			ref := fmt.Sprintf("refs/heads/p%02d-%c", p, "ab"[side])
			t := tip
			for c := 0; c < 5; c++ {
				edits := map[string]string{}
				var dels []string
				i := r.IntN(benchFiles)
				if c == 0 && p%4 == 0 {
					i = p // both sides edit file p: a content merge
				}
				version[i]++
				body := content(i, version[i])
				if side == 1 && c == 0 && p%4 == 0 {
					// edit the other end of the file so it merges cleanly
					body = strings.Replace(content(i, 0), "line 29 version 0", "line 29 edited", 1)
				}
				if c == 1 && p%5 == 0 {
					// a rename with an edit
					dels = append(dels, pathOf(i))
					edits["renamed/"+filepath.Base(pathOf(i))] = body + "moved\n"
				} else {
					edits[pathOf(i)] = body
				}
				t = commit(ref, t, edits, dels)
			}
		}
		pairs = append(pairs, [2]string{fmt.Sprintf("p%02d-a", p), fmt.Sprintf("p%02d-b", p)})
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatal(err)
	}
	return dir, pairs
}

// BenchmarkMergeVsGit merges the same branch pairs with this engine and
// with `git merge-tree --write-tree`, on a generated repository of 10,000
// files and 10,000 commits, and reports both times per merge and their
// ratio (engine/git: below 1 is faster than git). Every merge's tree is
// checked against git's.
func BenchmarkMergeVsGit(b *testing.B) {
	dir, pairs := makeBenchRepo(b)
	// opened as the bot's mirror is: pack descriptors kept open, an LRU
	// cache; not ExclusiveAccess, whose loose-object listing is rebuilt
	// (256 directory reads) after every object written
	fs := osfs.New(dir)
	st := filesystem.NewStorageWithOptions(fs, cache.NewObjectLRUDefault(),
		filesystem.Options{KeepDescriptors: true})
	defer st.Close()
	repo, err := git.Open(st, nil)
	if err != nil {
		b.Fatal(err)
	}
	resolve := func(name string) plumbing.Hash {
		ref, err := repo.Reference(plumbing.NewBranchReferenceName(name), true)
		if err != nil {
			b.Fatal(err)
		}
		return ref.Hash()
	}
	ctx := context.Background()
	m := New(repo.Storer)

	// git's time, and its trees to compare with.
	want := map[[2]string]string{}
	start := time.Now()
	for _, p := range pairs {
		out, _ := ortGitMergeTree(b, dir, p[0], p[1])
		want[p] = firstLine(out)
	}
	gitPer := time.Since(start) / time.Duration(len(pairs))

	b.ResetTimer()
	var engineTotal time.Duration
	merges := 0
	for i := 0; i < b.N; i++ {
		for _, p := range pairs {
			t0 := time.Now()
			res, err := m.MergeCommits(ctx, resolve(p[0]), resolve(p[1]), Options{OursLabel: p[0], TheirsLabel: p[1]})
			engineTotal += time.Since(t0)
			merges++
			if err != nil {
				b.Fatal(err)
			}
			if res.Tree.String() != want[p] {
				b.Fatalf("%s + %s: tree %s, git %s", p[0], p[1], res.Tree, want[p])
			}
		}
	}
	b.StopTimer()
	enginePer := engineTotal / time.Duration(merges)
	b.ReportMetric(float64(enginePer.Microseconds()), "engine-µs/merge")
	b.ReportMetric(float64(gitPer.Microseconds()), "git-µs/merge")
	b.ReportMetric(float64(enginePer)/float64(gitPer), "engine/git")
	b.Logf("%d files, %d commits: engine %v per merge, git merge-tree %v per merge, ratio %.2f",
		benchFiles, benchCommits, enginePer, gitPer, float64(enginePer)/float64(gitPer))
}

// BenchmarkBigMergeTrees merges, in one process, the branch pairs of
// BenchmarkMergeTreeVsGit (cmd/code-releaser) on the generated repository
// the size of git.git (gittest.GitSized, cached), reading it as merge-tree
// does (the pack reader, no commit-graph), and prints for each the trees
// read per merge (deterministic: the work the engine skips or not) and the
// time of a warm merge, next to `git merge-tree --write-tree` (whole
// process). Every tree is checked against git's.
//
//	go test ./integrations/gitrepo/merge -run XXX -bench BigMergeTrees -benchtime 1x
func BenchmarkBigMergeTrees(b *testing.B) {
	repo := gittest.OpenBigRepo(b, gittest.GitSized)
	repo.RemoveCommitGraph(b)
	st := filesystem.NewStorageWithOptions(osfs.New(repo.Dir), cache.NewObjectLRUDefault(), filesystem.Options{KeepDescriptors: true})
	defer st.Close()
	m, err := NewOnDisk(st, filepath.Join(repo.Dir, "objects"))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	counter := newTreeCounter(m.store)
	m.store = counter
	ctx := context.Background()
	pairs := [][2]string{{"t/0000", "t/0001"}, {"t/0002", "t/0003"}, {"master", "t/0007"}, {"maint", "master"}}
	const rounds = 5
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, p := range pairs {
			want, _ := ortGitMergeTree(b, repo.Dir, p[0], p[1])
			t0 := time.Now()
			for k := 0; k < rounds; k++ {
				ortGitMergeTree(b, repo.Dir, p[0], p[1])
			}
			gitPer := time.Since(t0) / rounds
			out, _ := gitCmd(b, repo.Dir, nil, "rev-parse", p[0], p[1])
			hs := strings.Fields(out)
			var trees int
			var enginePer time.Duration
			for k := 0; k <= rounds; k++ {
				counter.reset()
				t0 := time.Now()
				res, err := m.MergeCommits(ctx, plumbing.NewHash(hs[0]), plumbing.NewHash(hs[1]), Options{OursLabel: p[0], TheirsLabel: p[1]})
				if k > 0 { // the first merge warms the caches
					enginePer += time.Since(t0)
				}
				if err != nil {
					b.Fatal(err)
				}
				if res.Tree.String() != firstLine(want) {
					b.Fatalf("%s + %s: tree %s, git %s", p[0], p[1], res.Tree, firstLine(want))
				}
				trees = counter.total
			}
			enginePer /= rounds
			fmt.Printf("merge %-6s %-6s  trees read %5d  engine %7.2f ms (warm)  git merge-tree %7.2f ms (process)  ratio %.2f\n",
				p[0], p[1], trees, ms(enginePer), ms(gitPer), float64(enginePer)/float64(gitPer))
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
