package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/deploy/cfntest"
	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/store/redistest"
	"github.com/code-releaser/code-releaser/workflow"
)

// cliEnv, when set, makes the test binary run the command line in its
// value's directory (see TestHelperCLI).
const cliEnv = "CODE_RELEASER_TEST_CLI"

// TestHelperCLI is not a test: it is the code-releaser command line when
// the test binary re-executes itself with cliEnv set, so that a test can
// kill a real CLI process.
func TestHelperCLI(t *testing.T) {
	dir := os.Getenv(cliEnv)
	if dir == "" {
		t.Skip("not a test: the CLI of TestCLIReleaseKilledAfterPush's processes")
	}
	args := strings.Split(os.Getenv(cliEnv+"_ARGS"), "\n")
	os.Exit(run(context.Background(), args, &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, dir: dir}))
}

// TestCLIReleaseKilledAfterPush: a `release` process against Redis is
// killed (SIGKILL) right after its push, while its deploy runs; the next
// `release` on the env resumes it from its journal once its lease
// expires: the record ends released, the merge is on the remote once, the
// deploy is re-run, and the lease is free.
func TestCLIReleaseKilledAfterPush(t *testing.T) {
	gittest.RequireGit(t)
	rs := redistest.Dedicated(t, redistest.Options{})
	cfn := cfntest.New(cfntest.Options{Account: "111111111111", Region: "eu-west-1"})
	t.Cleanup(cfn.Close)
	// Not t.TempDir, whose parent is the test user's alone: a test run as
	// root runs the step as nobody, who must reach the gate.
	dir, err := os.MkdirTemp("", "code-releaser-killed-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	gate := filepath.Join(dir, "deploy-may-finish")
	runs := filepath.Join(dir, "deploy-runs")

	remote := gittest.NewRemote(t, "", "infra")
	w := remote.Clone(t)
	w.Git(t, "checkout", "-q", "-b", "master")
	// The deploy's one command step blocks until the test opens the gate,
	// and counts its runs.
	script := "echo run >> " + runs + "; while [ ! -e " + gate + " ]; do sleep 0.05; done"
	w.Commit(t, "initial", map[string]string{
		"code-releaser.yml": "commands:\n  - {name: wait, argv: [sh, -c, \"" + script + "\"], timeout: 10m}\n",
		"a.txt":             "a\n",
	})
	w.Push(t, "master")
	w.Branch(t, "JIRA-1", "master")
	w.Commit(t, "JIRA-1: change a", map[string]string{"a.txt": "a1\n"})
	w.Push(t, "JIRA-1")
	prefix := redistest.Prefix(t)
	cfg := "repo: {url: " + remote.URL() + ", cache_dir: " + filepath.Join(dir, "cache") + "}\n" +
		"redis: {url: \"redis://" + rs.Addr + "/0\", prefix: \"" + prefix + "\"}\n" +
		"lease_ttl: 1s\n" +
		"environments:\n  - {name: dev, aws: {region: eu-west-1, account_id: \"111111111111\"}}\n  - {name: prod, production: true}\n"
	if err := os.WriteFile(filepath.Join(dir, "c.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := func(logName string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCLI$")
		cmd.Env = append(os.Environ(), cliEnv+"="+dir,
			cliEnv+"_ARGS="+strings.Join([]string{"release", "JIRA-1", "dev", "--as", "alice", "--config", "c.yml"}, "\n"),
			"AWS_ENDPOINT_URL="+cfn.URL, "AWS_ACCESS_KEY_ID=AKIACLITEST00000000", "AWS_SECRET_ACCESS_KEY=cli-test-secret",
			"AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull, "AWS_MAX_ATTEMPTS=1", "AWS_PROFILE=")
		f, err := os.Create(filepath.Join(dir, logName))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		cmd.Stdout, cmd.Stderr = f, f
		return cmd
	}
	logOf := func(name string) string { b, _ := os.ReadFile(filepath.Join(dir, name)); return string(b) }

	first := cli("first.log")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Process.Kill(); first.Wait() })
	waitUntil(t, 60*time.Second, "the first release to push and start its deploy", func() bool {
		b, _ := os.ReadFile(runs)
		return remote.Tip(t, "release/dev") != "" && len(b) > 0
	})
	pushed := remote.Tip(t, "release/dev")
	if err := first.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	first.Wait()
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	second := cli("second.log")
	if err := second.Run(); err != nil {
		t.Fatalf("second release: %v\n%s\nfirst:\n%s", err, logOf("second.log"), logOf("first.log"))
	}

	ctx := t.Context()
	st, err := store.NewRedis(rs.Client(t), store.RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	events, err := st.Events(ctx, "dev", 0)
	if err != nil {
		t.Fatal(err)
	}
	var firstID string
	for _, e := range events {
		if e.Action == workflow.ActionRequested {
			firstID = e.ReleaseID // newest first: the last one seen is the first request
		}
	}
	rec, err := st.GetRelease(ctx, firstID)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, s := range rec.Steps {
		steps = append(steps, s.Name)
	}
	if rec.State != workflow.StateReleased || rec.PushedSHA != pushed || !strings.Contains(strings.Join(steps, " "), workflow.StepResumed) {
		t.Errorf("the killed release: %s (%s), pushed %s (remote had %s), journal %v; want released, resumed",
			rec.State, rec.Error, rec.PushedSHA, pushed, steps)
	}
	if tip := remote.Tip(t, "release/dev"); tip != pushed {
		t.Errorf("release/dev = %s, want the killed release's merge %s (merged once, nothing pushed again)", tip, pushed)
	}
	merges := gitOut(t, remote.Dir, "log", "--merges", "--format=%s", "--grep=JIRA-1", "release/dev")
	if n := len(strings.Split(strings.TrimSpace(merges), "\n")); n != 1 {
		t.Errorf("release/dev has %d merges of JIRA-1, want 1:\n%s", n, merges)
	}
	if b, _ := os.ReadFile(runs); strings.Count(string(b), "run") < 2 {
		t.Errorf("the deploy ran %d times, want it re-run after the kill", strings.Count(string(b), "run"))
	}
	if l, held, err := st.CurrentLease(ctx, "dev"); err != nil || held {
		t.Errorf("dev's lease after the second run: %+v, %v, %v; want free", l, held, err)
	}
	if q, err := st.Queue(ctx, "dev"); err != nil || len(q) != 0 {
		t.Errorf("dev's queue after the second run: %v, %v; want empty", q, err)
	}
	t.Logf("second run:\n%s", logOf("second.log"))
}
