//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
)

// summary is the median wall and CPU time and the largest peak memory of runs.
type summary struct {
	wall, cpu time.Duration
	rssKB     int64
}

func summarize(runs []gittest.ProcessRun) summary {
	walls, cpus := make([]time.Duration, len(runs)), make([]time.Duration, len(runs))
	var s summary
	for i, r := range runs {
		walls[i], cpus[i] = r.Wall, r.CPU
		s.rssKB = max(s.rssKB, r.RSSKB)
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	s.wall, s.cpu = walls[len(walls)/2], cpus[len(cpus)/2]
	return s
}

// buildBinary builds the command in pkg into a temporary directory, as the
// Dockerfile builds the ones that ship (no cgo, no symbol table).
func buildBinary(tb testing.TB, pkg, name string) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// BenchmarkMergeTreeVsGit runs `code-releaser merge-tree`,
// `code-releaser-merge-tree` (the same command without the bot linked in)
// and `git merge-tree --write-tree` as whole processes on a generated
// repository the size of git.git (60,000 commits, 4,000 files, one
// 216 MB pack; generated once with git fast-import and cached, see
// gittest.OpenBigRepo), without and with a commit-graph, for merges of
// topics, of a topic into master and of maint and master. Each merge runs
// several times, the tools alternating; it prints the median wall and CPU
// time and the peak memory of each and their ratios to git's, and checks
// that all give the same tree.
//
//	go test ./cmd/code-releaser -run XXX -bench MergeTreeVsGit -benchtime 1x
func BenchmarkMergeTreeVsGit(b *testing.B) {
	gittest.RequireGit(b)
	repo := gittest.OpenBigRepo(b, gittest.GitSized)
	type tool struct {
		name string
		argv []string
	}
	tools := []tool{
		{"git", []string{"git", "merge-tree", "--write-tree"}},
		{"code-releaser", []string{buildBinary(b, ".", "code-releaser"), "merge-tree"}},
		{"code-releaser-merge-tree", []string{buildBinary(b, "../code-releaser-merge-tree", "code-releaser-merge-tree")}},
	}
	env := append(gittest.Env(), "LC_ALL=C")
	startFloor(b, repo.Dir, env, tools[2].argv[0])
	pairs := [][2]string{
		{"t/0000", "t/0001"}, // two topics forked from master's tip
		{"t/0002", "t/0003"}, // forked 20 and 200 merges back
		{"master", "t/0007"}, // a topic forked 200 merges back into master
		{"maint", "master"},  // the long-lived branches
	}
	const rounds = 11
	ratios := map[string]*[2][]float64{} // wall, memory: every pair and mode
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, graph := range []bool{false, true} {
			if graph {
				repo.WriteCommitGraph(b)
			} else {
				repo.RemoveCommitGraph(b)
			}
			for _, p := range pairs {
				runs := make([][]gittest.ProcessRun, len(tools))
				args := func(t tool) []string { return append(t.argv[1:len(t.argv):len(t.argv)], "--name-only", p[0], p[1]) }
				for k := 0; k < rounds; k++ {
					for j, t := range tools {
						runs[j] = append(runs[j], gittest.Run(b, repo.Dir, env, t.argv[0], args(t)...))
					}
				}
				line := fmt.Sprintf("merge-tree %-6s %-6s graph=%-5v", p[0], p[1], graph)
				var g summary
				for j, t := range tools {
					if got, want := runs[j][0], runs[0][0]; firstLine(got.Stdout) != firstLine(want.Stdout) || got.Code != want.Code {
						b.Fatalf("%s %s: %s gives %q (exit %d), git %q (exit %d)", p[0], p[1], t.name,
							firstLine(got.Stdout), got.Code, firstLine(want.Stdout), want.Code)
					}
					s := summarize(runs[j])
					peak, timed := gittest.RunTimed(b, repo.Dir, env, t.argv[0], args(t)...)
					s.rssKB = peak.RSSKB
					if !timed {
						fmt.Println("(no /usr/bin/time: peak memory counts this test process's own)")
					}
					line += fmt.Sprintf(" | %s %6.1f ms (cpu %6.1f) %3d MiB", t.name, ms(s.wall), ms(s.cpu), s.rssKB>>10)
					if j == 0 {
						g = s
						continue
					}
					wr, mr := float64(s.wall)/float64(g.wall), float64(s.rssKB)/float64(g.rssKB)
					if ratios[t.name] == nil {
						ratios[t.name] = new([2][]float64)
					}
					ratios[t.name][0] = append(ratios[t.name][0], wr)
					ratios[t.name][1] = append(ratios[t.name][1], mr)
					line += fmt.Sprintf(": wall %.2fx memory %.2fx", wr, mr)
				}
				fmt.Println(line)
			}
		}
	}
	b.StopTimer()
	repo.RemoveCommitGraph(b)
	b.ReportMetric(slices.Max(ratios["code-releaser"][0]), "max-wall-ratio")
	b.ReportMetric(slices.Max(ratios["code-releaser"][1]), "max-memory-ratio")
	b.ReportMetric(slices.Max(ratios["code-releaser-merge-tree"][0]), "small-max-wall-ratio")
	b.ReportMetric(slices.Max(ratios["code-releaser-merge-tree"][1]), "small-max-memory-ratio")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// startFloor prints what starting a process costs, the part of a small
// merge's time no merge engine controls: `git version` against
// `code-releaser-merge-tree --help` and a Go program that prints one line
// (built as the binaries are), alternating, median of 41 runs each. The
// Go program's ratio to git's is the floor under the ratio of any merge
// that takes about as long as a start.
func startFloor(b *testing.B, dir string, env []string, mergeTree string) {
	hello := filepath.Join(b.TempDir(), "hello")
	src := b.TempDir()
	for name, body := range map[string]string{
		"go.mod":  "module hello\n\ngo 1.22\n",
		"main.go": "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"hello\\n\") }\n",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", hello, ".")
	build.Dir, build.Env = src, append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build hello: %v\n%s", err, out)
	}
	starts := []struct {
		name string
		argv []string
	}{{"git version", []string{"git", "version"}}, {"code-releaser-merge-tree --help", []string{mergeTree, "--help"}}, {"Go hello", []string{hello}}}
	runs := make([][]gittest.ProcessRun, len(starts))
	for k := 0; k < 41; k++ {
		for j, st := range starts {
			runs[j] = append(runs[j], gittest.Run(b, dir, env, st.argv[0], st.argv[1:]...))
		}
	}
	g := summarize(runs[0])
	line := "start"
	for j, st := range starts {
		s := summarize(runs[j])
		line += fmt.Sprintf(" | %s %5.2f ms (cpu %5.2f)", st.name, ms(s.wall), ms(s.cpu))
		if j > 0 {
			line += fmt.Sprintf(": %.2fx", float64(s.wall)/float64(g.wall))
		}
	}
	fmt.Println(line)
}
