package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/store/redistest"
	"github.com/code-releaser/code-releaser/workflow"
)

// sharedDevFixture is a remote with master and three tickets that touch
// files of their own, and a config file for it; extra is appended to the
// config.
func sharedDevFixture(t *testing.T, extra string) (remote *gittest.Remote, dir string) {
	t.Helper()
	gittest.RequireGit(t)
	remote = gittest.NewRemote(t, "", "infra")
	w := remote.Clone(t)
	w.Git(t, "checkout", "-q", "-b", "master")
	w.Commit(t, "initial", map[string]string{"README.md": "infra\n"})
	w.Push(t, "master")
	for _, k := range []string{"JIRA-1", "JIRA-2", "JIRA-3"} {
		w.Branch(t, k, "master")
		w.Commit(t, k+": a stack", map[string]string{"stacks/" + k + ".yml": "k: " + k + "\n"})
		w.Push(t, k)
	}
	dir = t.TempDir()
	cfg := "repo: {url: " + remote.URL() + ", cache_dir: " + filepath.Join(dir, "cache") + "}\n" +
		"environments: [{name: dev}, {name: prod, production: true}]\n" + extra
	if err := os.WriteFile(filepath.Join(dir, "code-releaser.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return remote, dir
}

func releaseAs(t *testing.T, dir, ticket, user string) string {
	t.Helper()
	code, out, errs := runCLI(t, dir, nil, "release", ticket, "dev", "--as", user, "--config", "code-releaser.yml")
	if code != 0 {
		t.Fatalf("release %s as %s exited %d\n%s\n%s", ticket, user, code, out, errs)
	}
	return out
}

// Without redis.url every CLI run starts with an empty store: the
// announcement still names who else is in dev, read from release/dev.
func TestCLIReleaseWithoutRedisNamesOccupantsFromGit(t *testing.T) {
	remote, dir := sharedDevFixture(t, "")
	releaseAs(t, dir, "JIRA-1", "alice")
	out := releaseAs(t, dir, "JIRA-2", "bob")
	if !strings.Contains(out, "also in dev: JIRA-1 of @alice\n") {
		t.Errorf("bob's announcement does not name alice's JIRA-1:\n%s", out)
	}
	if !strings.Contains(out, " 2 in dev\n") {
		t.Errorf("bob's release does not count 2 in dev:\n%s", out)
	}

	// JIRA-1 merged into master has graduated: git no longer counts it.
	w := remote.Clone(t)
	w.Git(t, "checkout", "-q", "master")
	w.Git(t, "merge", "-q", "--no-edit", "origin/JIRA-1")
	w.Push(t, "master")
	out = releaseAs(t, dir, "JIRA-3", "carol")
	if !strings.Contains(out, "also in dev: JIRA-2 of @bob\n") {
		t.Errorf("carol's announcement does not name only bob's JIRA-2 (JIRA-1 is in master):\n%s", out)
	}
}

// Redis restarted empty (FLUSHALL) between releases: the next release's
// announcement names the tickets release/dev holds and their owners, and
// the store's occupants are git's again.
func TestReleaseAfterStoreFlushNamesOccupantsFromGit(t *testing.T) {
	srv := redistest.Dedicated(t, redistest.Options{})
	url := "redis://" + srv.Addr + "/0"
	_, dir := sharedDevFixture(t, "redis: {url: '"+url+"'}\n")
	releaseAs(t, dir, "JIRA-1", "alice")
	if out := releaseAs(t, dir, "JIRA-2", "bob"); !strings.Contains(out, "also in dev: JIRA-1 of @alice\n") {
		t.Fatalf("before the flush, bob's announcement does not name alice:\n%s", out)
	}
	if err := srv.Client(t).FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	out := releaseAs(t, dir, "JIRA-3", "carol")
	if !strings.Contains(out, "also in dev: JIRA-1 of @alice, JIRA-2 of @bob\n") {
		t.Errorf("after the flush, carol's announcement does not name JIRA-1 of alice and JIRA-2 of bob:\n%s", out)
	}
	st, err := store.DialRedis(t.Context(), url, "", store.RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	occ, err := st.Occupants(t.Context(), "dev")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range occ {
		got = append(got, string(o.Ticket)+"@"+o.By)
	}
	if want := []string{"JIRA-1@alice", "JIRA-2@bob", "JIRA-3@carol"}; !slices.Equal(got, want) {
		t.Errorf("dev's occupants in the store after carol's release: got %v, want %v", got, want)
	}
}

// Without redis.url the commands whose whole effect is shared state are
// refused, naming redis.url, and change nothing; with it, a hold made by
// one process is seen by the next.
func TestCLISharedStateNeedsRedis(t *testing.T) {
	approvals := "  - {name: prodapp, production: true, approvals: {required: 1, approvers: [U1]}}\n"
	remote, dir := sharedDevFixture(t, "")
	cfgPath := filepath.Join(dir, "code-releaser.yml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	withApprovals := strings.Replace(string(cfg), "environments: [{name: dev}, {name: prod, production: true}]\n",
		"environments:\n  - {name: dev}\n"+approvals, 1)
	if err := os.WriteFile(cfgPath, []byte(withApprovals), 0o644); err != nil {
		t.Fatal(err)
	}
	before := remote.Branches(t)
	for _, args := range [][]string{
		{"hold", "dev", "testing"},
		{"unhold", "dev"},
		{"cancel", "JIRA-1", "dev"},
		{"approve", "prodapp-1"},
		{"reject", "prodapp-1"},
		{"release", "JIRA-1", "prodapp"},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, out, errs := runCLI(t, dir, nil, append(args, "--as", "alice", "--config", "code-releaser.yml")...)
			if code != 2 || !strings.Contains(errs, "no redis section") || !strings.Contains(errs, "code-releaser "+args[0]+": ") {
				t.Errorf("%v without redis.url: exit %d, want 2 and a message naming redis.url\nstdout:\n%s\nstderr:\n%s", args, code, out, errs)
			}
			if strings.Contains(out, "held") || strings.Contains(out, "releasing") {
				t.Errorf("%v without redis.url claims it acted:\n%s", args, out)
			}
		})
	}
	if after := remote.Branches(t); !sameMap(before, after) {
		t.Errorf("the remote changed: before %v, after %v", before, after)
	}

	srv := redistest.Dedicated(t, redistest.Options{})
	shared := withApprovals + "redis: {url: 'redis://" + srv.Addr + "/0'}\n"
	if err := os.WriteFile(cfgPath, []byte(shared), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCLI(t, dir, nil, "hold", "dev", "testing", "--as", "alice", "--config", "code-releaser.yml"); code != 0 || !strings.Contains(out, "held dev by alice") {
		t.Fatalf("hold with redis.url: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := runCLI(t, dir, nil, "unhold", "dev", "--as", "alice", "--config", "code-releaser.yml"); code != 0 || !strings.Contains(out, "unheld dev") {
		t.Errorf("unhold in another process with redis.url: exit %d\n%s\n%s", code, out, errs)
	}
}

// Without redis.url the CLI's store starts from git (Service.Reconcile):
// remove finds the ticket release/dev holds and rebuilds the branch with
// the other one.
func TestCLIRemoveWithoutRedisReadsOccupantsFromGit(t *testing.T) {
	remote, dir := sharedDevFixture(t, "")
	releaseAs(t, dir, "JIRA-1", "alice")
	releaseAs(t, dir, "JIRA-2", "bob")
	code, out, errs := runCLI(t, dir, nil, "remove", "JIRA-1", "dev", "--as", "alice", "--config", "code-releaser.yml")
	if code != 0 || !strings.Contains(out, "removed JIRA-1 from dev") || !strings.Contains(out, "with JIRA-2;") {
		t.Fatalf("remove JIRA-1 without redis.url: exit %d\n%s\n%s", code, out, errs)
	}
	for _, c := range []struct {
		ticket string
		in     bool
	}{{"JIRA-1", false}, {"JIRA-2", true}} {
		_, err := gittest.RunGit(remote.Dir, nil, "merge-base", "--is-ancestor", "refs/heads/"+c.ticket, "refs/heads/release/dev")
		if got := err == nil; got != c.in {
			t.Errorf("release/dev contains %s after the remove: got %t, want %t", c.ticket, got, c.in)
		}
	}
}

// A long-running process (serve) on a Redis that is flushed: the next
// time it takes a lease, for any env, it notices the new epoch and
// rebuilds every env's occupants from git, so that the board
// (Service.Status, /release status) is true again; a new process on the
// emptied store does the same as it starts.
func TestFlushedStoreRebuiltFromGit(t *testing.T) {
	srv := redistest.Dedicated(t, redistest.Options{})
	url := "redis://" + srv.Addr + "/0"
	_, dir := sharedDevFixture(t, "redis: {url: '"+url+"'}\n")
	cfgPath := filepath.Join(dir, "code-releaser.yml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	withStg := strings.Replace(string(cfg), "[{name: dev},", "[{name: dev}, {name: stg},", 1)
	if err := os.WriteFile(cfgPath, []byte(withStg), 0o644); err != nil {
		t.Fatal(err)
	}
	releaseAs(t, dir, "JIRA-1", "alice")
	releaseAs(t, dir, "JIRA-2", "bob")

	ctx := t.Context()
	open := func() *app {
		c, err := loadConfig("code-releaser.yml", dir, noEnv)
		if err != nil {
			t.Fatal(err)
		}
		a, err := newApp(ctx, slog.New(slog.NewTextHandler(testLogWriter{t}, nil)), c, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	devBoard := func(a *app) []string {
		t.Helper()
		st, err := a.svc.Status(ctx, "dev")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range st[0].Occupants {
			got = append(got, string(o.Ticket)+"@"+o.By)
		}
		return got
	}
	want := []string{"JIRA-1@alice", "JIRA-2@bob"}

	long := open() // up before the flush
	defer func() {
		if long != nil {
			long.close()
		}
	}()
	flush := func() {
		if err := srv.Client(t).FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	if got := devBoard(long); len(got) != 0 {
		t.Fatalf("dev's board right after the flush: %v; want it empty (the store lost it)", got)
	}
	if _, err := long.svc.Release(ctx, workflow.ReleaseRequest{Ticket: "JIRA-3", Env: "stg", User: workflow.User{ID: "carol"}}); err != nil {
		t.Fatal(err)
	}
	if got := devBoard(long); !slices.Equal(got, want) {
		t.Errorf("dev's board after a release to stg noticed the flush: %v; want %v", got, want)
	}

	long.close() // one process at a time on the mirror's cache dir
	long = nil
	flush()
	fresh := open()
	defer fresh.close()
	if got := devBoard(fresh); !slices.Equal(got, want) {
		t.Errorf("dev's board of a process started after a flush: %v; want %v", got, want)
	}
}
