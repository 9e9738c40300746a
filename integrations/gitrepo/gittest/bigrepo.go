package gittest

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Big repositories for benchmarks: a history the size of git.git's
// (tens of thousands of commits, thousands of files, most commits on topic
// branches merged into master), written once with git fast-import and kept
// in a cache directory, so that later runs start at once.

// BigRepoSpec sizes a generated history.
type BigRepoSpec struct {
	Files   int // files in the tree
	Commits int // commits on topics and master, merges included
	Seed    uint64
}

// GitSized is a history shaped and sized like git.git's.
var GitSized = BigRepoSpec{Files: 4000, Commits: 60000, Seed: 1}

// BigRepo is a generated bare repository: master, maint (forked a third of
// the way in, gets its own topics, which master merges too, and is merged
// into master now and then, as git.git's maint), and topic branches t/NNNN
// left unmerged: merge any two, or any into master or maint.
type BigRepo struct {
	Dir    string   // the bare repository (one pack, no commit-graph)
	Topics []string // unmerged topic branches, oldest fork first
}

// BigRepoCacheDir is where big repositories are kept: $CODE_RELEASER_BENCH_CACHE,
// else code-releaser-bench in the user's cache directory (the temporary
// directory when there is none).
func BigRepoCacheDir() string {
	if d := os.Getenv("CODE_RELEASER_BENCH_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "code-releaser-bench")
	}
	return filepath.Join(os.TempDir(), "code-releaser-bench")
}

// OpenBigRepo returns the repository of spec from the cache, generating it
// first when it is not there (a few minutes for GitSized). Benchmarks only:
// never call it from a test of the normal suite.
func OpenBigRepo(tb testing.TB, spec BigRepoSpec) *BigRepo {
	tb.Helper()
	RequireGit(tb)
	name := fmt.Sprintf("big-v2-f%d-c%d-s%d.git", spec.Files, spec.Commits, spec.Seed)
	dir := filepath.Join(BigRepoCacheDir(), name)
	if _, err := os.Stat(filepath.Join(dir, "complete")); err != nil {
		tb.Logf("generating %s (%d commits, %d files): once, then cached", dir, spec.Commits, spec.Files)
		if err := generateBigRepo(dir, spec); err != nil {
			tb.Fatal(err)
		}
	}
	r := &BigRepo{Dir: dir}
	out := Git(tb, dir, "for-each-ref", "--format=%(refname:short)", "refs/heads/t/")
	r.Topics = strings.Fields(out)
	return r
}

// WriteCommitGraph writes git's commit-graph file for every reachable commit.
func (r *BigRepo) WriteCommitGraph(tb testing.TB) {
	tb.Helper()
	Git(tb, r.Dir, "commit-graph", "write", "--reachable")
}

// RemoveCommitGraph removes any commit-graph file or chain.
func (r *BigRepo) RemoveCommitGraph(tb testing.TB) {
	tb.Helper()
	for _, p := range []string{"objects/info/commit-graph", "objects/info/commit-graphs"} {
		if err := os.RemoveAll(filepath.Join(r.Dir, p)); err != nil {
			tb.Fatal(err)
		}
	}
}

// generateBigRepo writes the repository into a temporary directory next to
// dir, repacks it into one pack and renames it into place.
func generateBigRepo(dir string, spec BigRepoSpec) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".gen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if _, err := RunGit(tmp, nil, "init", "-q", "--bare"); err != nil {
		return err
	}
	cmd := exec.Command("git", "fast-import", "--quiet", "--depth=50")
	cmd.Dir = tmp
	cmd.Env = Env()
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	werr := writeBigHistory(in, spec)
	in.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git fast-import: %v: %s", err, stderr.String())
	}
	if werr != nil {
		return werr
	}
	if _, err := RunGit(tmp, nil, "update-ref", "-d", "refs/heads/topic-work"); err != nil {
		return err
	}
	// One pack, as a clone has; no commit-graph (benchmarks add one).
	if _, err := RunGit(tmp, nil, "-c", "pack.threads=2", "repack", "-a", "-d", "-q"); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "complete"), nil, 0o644); err != nil {
		return err
	}
	os.RemoveAll(dir)
	return os.Rename(tmp, dir)
}

// writeBigHistory writes the fast-import stream: an initial tree, then
// topics that fork from master (most from its tip, some from further back),
// get a few commits each and are merged into master with a merge commit,
// several open at once, as in git.git. The last 16 topics stay unmerged.
func writeBigHistory(out io.Writer, spec BigRepoSpec) error {
	w := bufio.NewWriterSize(out, 1<<20)
	r := rand.New(rand.NewPCG(spec.Seed, spec.Seed^0xb16))
	words := strings.Fields("static int struct void return if else for while char const unsigned size_t " +
		"commit tree blob object oid hash repo index path buf len strbuf list item flags opt die error " +
		"warning free alloc parse read write merge base ref head branch tag pack delta fetch push")
	line := func() string {
		n := 3 + r.IntN(8)
		var b strings.Builder
		b.WriteString(strings.Repeat("\t", r.IntN(3)))
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[r.IntN(len(words))])
		}
		fmt.Fprintf(&b, " %d;", r.IntN(100000))
		return b.String()
	}
	files := make([][]string, spec.Files)
	paths := make([]string, spec.Files)
	for i := range files {
		paths[i] = fmt.Sprintf("src/m%02d/d%02d/file%04d.c", i%40, (i/40)%10, i)
		n := 20 + r.IntN(300)
		files[i] = make([]string, n)
		for j := range files[i] {
			files[i][j] = line()
		}
	}
	edit := func(ls []string) []string {
		out := append([]string(nil), ls...)
		for k := 1 + r.IntN(4); k > 0; k-- {
			at := r.IntN(len(out) + 1)
			switch r.IntN(3) {
			case 0: // insert a few lines
				ins := make([]string, 1+r.IntN(6))
				for i := range ins {
					ins[i] = line()
				}
				out = append(out[:at], append(ins, out[at:]...)...)
			case 1: // change a line
				if at < len(out) {
					out[at] = line()
				}
			default: // delete a few lines
				if at < len(out) && len(out) > 10 {
					out = append(out[:at], out[min(len(out), at+1+r.IntN(3)):]...)
				}
			}
		}
		return out
	}
	mark := 0
	when := int64(1_100_000_000)
	type fileVersion struct {
		path  string
		lines []string
	}
	commit := func(ref string, parents []int, changes []fileVersion) int {
		mark++
		when += int64(r.IntN(900))
		date := when
		if r.IntN(50) == 0 {
			date -= int64(r.IntN(7200)) // some clock skew
		}
		msg := fmt.Sprintf("change %d\n", mark)
		fmt.Fprintf(w, "commit %s\nmark :%d\nauthor Dev %d <dev%d@example.com> %d +0000\ncommitter Dev <dev@example.com> %d +0000\ndata %d\n%s",
			ref, mark, mark%97, mark%97, date, date, len(msg), msg)
		for k, p := range parents {
			if k == 0 {
				fmt.Fprintf(w, "from :%d\n", p)
			} else {
				fmt.Fprintf(w, "merge :%d\n", p)
			}
		}
		for _, c := range changes {
			body := strings.Join(c.lines, "\n") + "\n"
			fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", c.path, len(body), body)
		}
		return mark
	}
	var first []fileVersion
	for i := range files {
		first = append(first, fileVersion{paths[i], files[i]})
	}
	master := commit("refs/heads/master", nil, first)
	masterHist := []int{master}
	// A topic: its fork point, its tip, how many commits it still gets,
	// its own versions of the files it changed.
	type topic struct {
		tip, left int
		own       map[int][]string
		maint     bool // forked from maint: merged into maint, then master
	}
	var open []*topic
	maint := 0 // no maint yet
	newTopic := func() *topic {
		if maint > 0 && r.IntN(8) == 0 {
			return &topic{tip: maint, left: 1 + r.IntN(4), own: map[int][]string{}, maint: true}
		}
		back := 0
		if r.IntN(4) == 0 {
			back = r.IntN(min(len(masterHist), 300))
		}
		return &topic{tip: masterHist[len(masterHist)-1-back], left: 1 + r.IntN(8), own: map[int][]string{}}
	}
	const topicRef = "refs/heads/topic-work" // deleted after the import
	for mark < spec.Commits-16*4 {
		for len(open) < 6 {
			open = append(open, newTopic())
		}
		t := open[r.IntN(len(open))]
		var changes []fileVersion
		for k := 1 + r.IntN(3); k > 0; k-- {
			f := r.IntN(spec.Files)
			if r.IntN(3) > 0 && len(t.own) > 0 { // topics keep editing their files
				for g := range t.own {
					f = g
					break
				}
			}
			base, ok := t.own[f]
			if !ok {
				base = files[f]
			}
			t.own[f] = edit(base)
			changes = append(changes, fileVersion{paths[f], t.own[f]})
		}
		t.tip = commit(topicRef, []int{t.tip}, changes)
		t.left--
		if t.left > 0 {
			continue
		}
		// Merge the topic into master: master takes the topic's versions
		// (a topic's files are its own while it is open; later topics
		// start from master's).
		var merged []fileVersion
		for f, ls := range t.own {
			files[f] = ls
			merged = append(merged, fileVersion{paths[f], ls})
		}
		if t.maint {
			maint = commit("refs/heads/maint", []int{maint, t.tip}, merged)
		}
		master = commit("refs/heads/master", []int{master, t.tip}, merged)
		masterHist = append(masterHist, master)
		switch {
		case maint == 0 && mark > spec.Commits/3:
			maint = commit("refs/heads/maint", []int{master}, nil)
		case maint > 0 && len(masterHist)%400 == 0:
			master = commit("refs/heads/master", []int{master, maint}, nil)
			masterHist = append(masterHist, master)
		}
		for i, o := range open {
			if o == t {
				open = append(open[:i], open[i+1:]...)
				break
			}
		}
	}
	// Unmerged topics for the benchmarks: forks from recent and older
	// master commits, some touching the same files.
	for i := 0; i < 16; i++ {
		back := []int{0, 2, 20, 200}[i%4]
		back = min(back, len(masterHist)-1)
		tip := masterHist[len(masterHist)-1-back]
		ref := fmt.Sprintf("refs/heads/t/%04d", i)
		own := map[int][]string{}
		for c := 0; c < 4; c++ {
			f := (i*131 + c*17) % spec.Files
			if c == 0 {
				f = (i / 2) % spec.Files // pairs share a file
			}
			base, ok := own[f]
			if !ok {
				base = files[f]
			}
			own[f] = edit(base)
			tip = commit(ref, []int{tip}, []fileVersion{{paths[f], own[f]}})
		}
	}
	return w.Flush()
}
