package gitrepo

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/workflow"
)

const (
	benchFiles = 10000
	benchDirs  = 100
)

// fastImport feeds a fast-import stream to git in the bare repository dir.
func fastImport(tb testing.TB, dir string, stream []byte) {
	tb.Helper()
	if _, err := gittest.RunGit(dir, stream, "fast-import", "--quiet"); err != nil {
		tb.Fatal(err)
	}
}

func benchPath(i int) string {
	return fmt.Sprintf("stacks/dir%03d/file%05d.yml", i%benchDirs, i)
}

// generateRepo writes master with benchFiles files in one commit and
// release/dev at master.
func generateRepo(tb testing.TB, dir string) {
	tb.Helper()
	var s bytes.Buffer
	for i := 0; i < benchFiles; i++ {
		content := fmt.Sprintf("# file %d\nname: stack-%d\nparameters:\n  a: 1\n  b: 2\n  c: 3\n", i, i)
		fmt.Fprintf(&s, "blob\nmark :%d\ndata %d\n%s\n", i+1, len(content), content)
	}
	msg := "initial import"
	fmt.Fprintf(&s, "commit refs/heads/master\ncommitter Gen <gen@example.com> 1700000000 +0000\ndata %d\n%s\n", len(msg), msg)
	for i := 0; i < benchFiles; i++ {
		fmt.Fprintf(&s, "M 100644 :%d %s\n", i+1, benchPath(i))
	}
	s.WriteString("\nreset refs/heads/release/dev\nfrom refs/heads/master\n\n")
	fastImport(tb, dir, s.Bytes())
}

// addTicket adds branch JIRA-<n> to the repository at dir: one commit on
// master changing one file. The stream is the same for every repository,
// so is the commit.
func addTicket(tb testing.TB, dirs []string, n int) string {
	tb.Helper()
	branch := fmt.Sprintf("JIRA-%d", n)
	path := benchPath((n * 7919) % benchFiles)
	content := fmt.Sprintf("# changed by %s\nname: x\n", branch)
	msg := branch + ": change " + path
	stream := fmt.Sprintf("commit refs/heads/%s\ncommitter Dev <dev@example.com> %d +0000\ndata %d\n%s\nfrom refs/heads/master^0\nM 100644 inline %s\ndata %d\n%s\n\n",
		branch, 1700000000+n, len(msg), msg, path, len(content), content)
	for _, d := range dirs {
		fastImport(tb, d, []byte(stream))
	}
	return branch
}

// BenchmarkReleaseCycle times one release with a warm mirror (fetch, merge a
// ticket branch into release/dev, push) on a 10,000-file repository, next
// to the same steps with the git command in a warm clone (fetch, checkout,
// merge, push), and reports both and their ratio.
func BenchmarkReleaseCycle(b *testing.B) {
	gittest.RequireGit(b)
	root := b.TempDir()
	remoteA := gittest.NewRemote(b, root, "gogit")
	remoteB := gittest.NewRemote(b, root, "cli")
	generateRepo(b, remoteA.Dir)
	generateRepo(b, remoteB.Dir)
	ctx := context.Background()

	m, err := Open(ctx, slog.New(slog.DiscardHandler), Config{URL: remoteA.URL(), CacheDir: filepath.Join(root, "cache")})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	if err := m.Fetch(ctx); err != nil {
		b.Fatal(err)
	}
	clone := remoteB.Clone(b)
	clone.Git(b, "checkout", "--quiet", "release/dev")

	goGit := func(branch string) {
		if err := m.Fetch(ctx); err != nil {
			b.Fatal(err)
		}
		old, _, err := m.Tip(ctx, "release/dev")
		if err != nil {
			b.Fatal(err)
		}
		t, err := m.ResolveTicket(ctx, workflow.TicketKey(branch))
		if err != nil {
			b.Fatal(err)
		}
		out, err := m.Merge(ctx, workflow.MergeRequest{Ours: old, Theirs: t.SHA, OursLabel: "release/dev", TheirsLabel: t.Name,
			Message: "Release " + branch + " to dev\n\nTicket: " + branch + "\n", Author: "Bench"})
		if err != nil || out.SHA == "" || len(out.Conflicts) > 0 {
			b.Fatalf("Merge = %+v, %v", out, err)
		}
		if err := m.Push(ctx, "release/dev", old, out.SHA); err != nil {
			b.Fatal(err)
		}
	}
	cli := func(branch string) {
		clone.Git(b, "fetch", "--quiet", "origin")
		clone.Git(b, "checkout", "--quiet", "-B", "release/dev", "origin/release/dev")
		clone.Git(b, "merge", "--quiet", "--no-ff", "-m", "Release "+branch+" to dev\n\nTicket: "+branch, "origin/"+branch)
		clone.Git(b, "push", "--quiet", "origin", "release/dev")
	}

	// One untimed round warms both.
	n := 1
	warm := addTicket(b, []string{remoteA.Dir, remoteB.Dir}, n)
	goGit(warm)
	cli(warm)

	var goGitTime, cliTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		n++
		branch := addTicket(b, []string{remoteA.Dir, remoteB.Dir}, n)
		b.StartTimer()

		start := time.Now()
		goGit(branch)
		goGitTime += time.Since(start)

		b.StopTimer()
		start = time.Now()
		cli(branch)
		cliTime += time.Since(start)
		b.StartTimer()
	}
	b.StopTimer()
	if got, want := gittest.Git(b, remoteA.Dir, "rev-parse", "release/dev^{tree}"), gittest.Git(b, remoteB.Dir, "rev-parse", "release/dev^{tree}"); got != want {
		b.Errorf("release/dev trees differ: go-git %s, git %s", got, want)
	}
	perGoGit := goGitTime / time.Duration(b.N)
	perCLI := cliTime / time.Duration(b.N)
	ratio := float64(goGitTime) / float64(cliTime)
	b.ReportMetric(float64(perGoGit.Microseconds())/1000, "ms/gogit-cycle")
	b.ReportMetric(float64(perCLI.Microseconds())/1000, "ms/gitcli-cycle")
	b.ReportMetric(ratio, "gogit/gitcli")
	fmt.Printf("release cycle on %d files, %d rounds: go-git mirror %v, git CLI clone %v, ratio %.2f\n",
		benchFiles, b.N, perGoGit, perCLI, ratio)
}
