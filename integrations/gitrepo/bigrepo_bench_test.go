//go:build unix

package gitrepo

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/workflow"
)

// The benchmarks here run the mirror in a child process (this test binary,
// running TestMirrorChildProcess) so that its time and peak memory are its
// own and every run starts cold, as after a restart.
const (
	childModeEnv  = "CODE_RELEASER_BENCH_CHILD"
	childURLEnv   = "CODE_RELEASER_BENCH_URL"
	childCacheEnv = "CODE_RELEASER_BENCH_CACHE_DIR"
)

// TestMirrorChildProcess is not a test: it is the child process of
// BenchmarkBigMirrorVsGit ("mirror": Open and the first Fetch; "release":
// Open, Fetch, resolve JIRA-9, merge it into release/dev and push).
func TestMirrorChildProcess(t *testing.T) {
	mode := os.Getenv(childModeEnv)
	if mode == "" {
		t.Skip("skipped: the child process of BenchmarkBigMirrorVsGit, not a test")
	}
	ctx := context.Background()
	m, err := Open(ctx, nil, Config{URL: os.Getenv(childURLEnv), CacheDir: os.Getenv(childCacheEnv), BotName: "Bench", BotEmail: "bench@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	defer printOwnPeak()
	if mode != "release" {
		return
	}
	old, _, err := m.Tip(ctx, "release/dev")
	if err != nil {
		t.Fatal(err)
	}
	tk, err := m.ResolveTicket(ctx, "JIRA-9")
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Merge(ctx, workflow.MergeRequest{Ours: old, Theirs: tk.SHA, OursLabel: "release/dev", TheirsLabel: tk.Name,
		Message: "Release JIRA-9 to dev\n", Author: "Bench"})
	if err != nil || out.SHA == "" || len(out.Conflicts) > 0 {
		t.Fatalf("Merge = %+v, %v", out, err)
	}
	if err := m.Push(ctx, "release/dev", old, out.SHA); err != nil {
		t.Fatal(err)
	}
	fmt.Println(out.SHA)
}

// printOwnPeak prints this process's own peak resident set (without the
// git-upload-pack it ran for the fetch, which the rusage of a process tree
// counts), for the benchmark to read.
func printOwnPeak() {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Println("own-peak-kb", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
}

// ownPeakKB reads what printOwnPeak printed (0 when nothing).
func ownPeakKB(out string) int64 {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "own-peak-kb "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

type benchRun struct {
	wall  time.Duration
	rssKB int64
	out   string
}

// runChild runs a process (and the processes it waits for) to a zero exit
// and measures it, its peak memory from time(1) when there is one (see
// gittest.RunTimed).
func runChild(tb testing.TB, dir string, env []string, name string, args ...string) benchRun {
	tb.Helper()
	r, _ := gittest.RunTimed(tb, dir, env, name, args...)
	if r.Code != 0 {
		tb.Fatalf("%s %v: exit %d\n%s", name, args, r.Code, r.Stdout)
	}
	return benchRun{wall: r.Wall, rssKB: r.RSSKB, out: r.Stdout}
}

func (r benchRun) add(o benchRun) benchRun {
	return benchRun{wall: r.wall + o.wall, rssKB: max(r.rssKB, o.rssKB), out: r.out + o.out}
}

// BenchmarkBigMirrorVsGit measures, on a remote the size of git.git (see
// gittest.OpenBigRepo: 60,000 commits, 4,000 files, a 216 MB pack) served
// over file:// (git-upload-pack):
//   - the initial mirror: Open and the first Fetch (which writes the
//     commit-graph) in a new process, against `git clone --mirror`;
//   - the first release after a start: a new process opens the mirror,
//     fetches a new ticket branch, merges it into release/dev and pushes,
//     against git doing the same in its mirror (fetch, merge-tree,
//     commit-tree, push); 5 rounds, the median kept.
//
// It prints wall time and peak memory of both and their ratios.
//
//	go test ./integrations/gitrepo -run XXX -bench BigMirrorVsGit -benchtime 1x
func BenchmarkBigMirrorVsGit(b *testing.B) {
	gittest.RequireGit(b)
	big := gittest.OpenBigRepo(b, gittest.GitSized)
	root := b.TempDir()
	remote := filepath.Join(root, "remote.git")
	// the remote borrows the cached repository's objects: nothing is copied
	gittest.Git(b, root, "clone", "-q", "--mirror", "--shared", big.Dir, remote)
	gittest.Git(b, remote, "update-ref", "refs/heads/release/dev", "master")
	url := "file://" + remote
	env := os.Environ()
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	child := func(mode, cache string) benchRun {
		return runChild(b, root, append(env, childModeEnv+"="+mode, childURLEnv+"="+url, childCacheEnv+"="+cache),
			self, "-test.run=^TestMirrorChildProcess$", "-test.count=1")
	}
	gitEnv := gittest.Env()
	git := func(dir string, args ...string) benchRun {
		return runChild(b, dir, gitEnv, "git", append([]string{"-c", "user.name=Bench", "-c", "user.email=bench@example.com"}, args...)...)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cache := filepath.Join(root, fmt.Sprintf("cache%d", i))
		gitMirror := filepath.Join(root, fmt.Sprintf("git-mirror%d.git", i))
		ours := child("mirror", cache)
		theirs := git(root, "clone", "-q", "--mirror", url, gitMirror)
		report("initial mirror", ours, theirs)
		fmt.Printf("%-28s code-releaser's own process (without the git-upload-pack it runs): %d MiB\n", "", ownPeakKB(ours.out)>>10)

		// a ticket the mirrors have not seen: one commit on a topic; each
		// round a new one, a new process for code-releaser, the median kept
		var oursRuns, theirsRuns []benchRun
		for k := 0; k < 5; k++ {
			tip := gittest.Git(b, remote, "commit-tree", "-p", "t/0004", "-m", fmt.Sprintf("JIRA-9 round %d.%d", i, k), "t/0005^{tree}")
			gittest.Git(b, remote, "update-ref", "refs/heads/JIRA-9", tip)
			start := gittest.Git(b, remote, "rev-parse", "release/dev")

			oursRuns = append(oursRuns, child("release", cache))
			gittest.Git(b, remote, "update-ref", "refs/heads/release/dev", start)
			theirs := git(gitMirror, "fetch", "-q", "origin")
			mt := git(gitMirror, "merge-tree", "--write-tree", "release/dev", "JIRA-9")
			theirs = theirs.add(mt)
			ct := git(gitMirror, "commit-tree", "-p", "release/dev", "-p", "JIRA-9", "-m", "Release JIRA-9 to dev", firstLineOf(mt.out))
			theirs = theirs.add(ct)
			theirsRuns = append(theirsRuns, theirs.add(git(gitMirror, "push", "-q", url, firstLineOf(ct.out)+":refs/heads/release/dev")))
			gittest.Git(b, remote, "update-ref", "refs/heads/release/dev", start)
		}
		report("first release after a start", median(oursRuns), median(theirsRuns))
		var own int64
		for _, r := range oursRuns {
			own = max(own, ownPeakKB(r.out))
		}
		fmt.Printf("%-28s code-releaser's own process (without the git-upload-pack it runs): %d MiB\n", "", own>>10)
	}
}

// median is the run of median wall time, with the largest peak memory.
func median(runs []benchRun) benchRun {
	sorted := append([]benchRun(nil), runs...)
	slices.SortFunc(sorted, func(a, b benchRun) int { return cmp.Compare(a.wall, b.wall) })
	m := sorted[len(sorted)/2]
	for _, r := range runs {
		m.rssKB = max(m.rssKB, r.rssKB)
	}
	return m
}

func report(what string, ours, theirs benchRun) {
	fmt.Printf("%-28s code-releaser %8.0f ms %5d MiB | git %8.0f ms %5d MiB | wall %.2fx  memory %.2fx\n",
		what, float64(ours.wall.Milliseconds()), ours.rssKB>>10, float64(theirs.wall.Milliseconds()), theirs.rssKB>>10,
		float64(ours.wall)/float64(theirs.wall), float64(ours.rssKB)/float64(theirs.rssKB))
}

func firstLineOf(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
