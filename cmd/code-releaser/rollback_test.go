package main

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/code-releaser/code-releaser/store/redistest"
)

var rollbackHint = regexp.MustCompile(`code-releaser rollback (\S+) --as USER`)

// The terminal's rollback on real git and a real redis-server: a release
// whose verification fails says how to roll it back; the rollback puts a
// commit on release/dev with the tree from before the release (git shows
// the failed release still in the history), and the ticket, fixed and
// released again, comes back whole — the commit the rollback undid too.
func TestCLIRollbackOnRealGit(t *testing.T) {
	rs := redistest.Dedicated(t, redistest.Options{})
	var healthy atomic.Bool
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer app.Close()
	_, w, dir := deployWorld(t, "", "redis: {url: \"redis://"+rs.Addr+"/0\", prefix: \""+redistest.Prefix(t)+":\"}\n")
	w.Fetch(t)
	before := w.Git(t, "rev-parse", "origin/release/dev")
	w.Branch(t, "JIRA-7", "master")
	w.Commit(t, "JIRA-7: check dev's health, queue v1", map[string]string{
		"code-releaser.yml": "stacks:\n  net: {name: \"{env}-net\", template: net.yml}\n  app: {name: \"{env}-app\", template: app.yml}\n" +
			"envs:\n  dev:\n    verify:\n      - name: health\n        http: {url: \"" + app.URL + "/health\", retries: 1, interval: 10ms}\n",
		"queue.txt": "v1\n",
	})
	w.Push(t, "JIRA-7")

	code, out, errs := runCLI(t, dir, nil, "release", "JIRA-7", "dev", "--as", "alice", "--config", "c.yml")
	if code != 1 {
		t.Fatalf("release with dev unhealthy: exit %d, want 1\n%s\n%s", code, out, errs)
	}
	m := rollbackHint.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the failed release does not say how to roll it back:\n%s", out)
	}
	id := m[1]
	w.Fetch(t)
	failed := w.Git(t, "rev-parse", "origin/release/dev")

	if code, out, errs := runCLI(t, dir, nil, "rollback", id, "--config", "c.yml"); code != 2 || !strings.Contains(errs, "--as USER is required") {
		t.Errorf("rollback without --as: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCLI(t, dir, nil, "rollback", id, "--as", "alice", "--config", "c.yml")
	if code != 0 || !strings.Contains(out, "rolled back JIRA-7's release "+id+" in dev: release/dev at ") || !strings.Contains(out, "left: JIRA-7") {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, out, errs)
	}
	w.Fetch(t)
	if got := w.Git(t, "rev-parse", "origin/release/dev~1"); got != failed {
		t.Errorf("release/dev~1 = %s, want the failed release's %s: the history was not kept", got, failed)
	}
	if diff := w.Git(t, "diff", "--stat", before, "origin/release/dev"); diff != "" {
		t.Errorf("release/dev differs from before the release:\n%s", diff)
	}
	code, out, errs = runCLI(t, dir, nil, "rollback", id, "--as", "alice", "--config", "c.yml")
	if code == 0 || !strings.Contains(errs, "rolled back already") {
		t.Errorf("second rollback: exit %d\n%s\n%s", code, out, errs)
	}

	healthy.Store(true)
	w.Checkout(t, "JIRA-7")
	w.Commit(t, "JIRA-7: dead-letter queue", map[string]string{"dlq.txt": "on\n"})
	w.Push(t, "JIRA-7")
	code, out, errs = runCLI(t, dir, nil, "release", "JIRA-7", "dev", "--as", "alice", "--config", "c.yml")
	if code != 0 {
		t.Fatalf("release after the fix: exit %d\n%s\n%s", code, out, errs)
	}
	w.Fetch(t)
	for file, want := range map[string]string{"queue.txt": "v1", "dlq.txt": "on"} {
		if got := w.Git(t, "show", "origin/release/dev:"+file); got != want {
			t.Errorf("release/dev's %s = %q, want %q (JIRA-7 whole again)", file, got, want)
		}
	}
	code, out, _ = runCLI(t, dir, nil, "status", "dev", "--config", "c.yml")
	if code != 0 || !strings.Contains(out, "JIRA-7") {
		t.Errorf("status after the new release: exit %d\n%s", code, out)
	}
}

// A prod rollback from the terminal runs its release job in the process,
// like release: prod (no approvals here) runs its previous deploy again.
func TestCLIProdRollback(t *testing.T) {
	rs := redistest.Dedicated(t, redistest.Options{})
	var healthy atomic.Bool
	healthy.Store(true)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer app.Close()
	_, w, dir := deployWorld(t, "  - {name: prod, production: true, aws: {region: eu-west-1, account_id: \"111111111111\"}}\n",
		"redis: {url: \"redis://"+rs.Addr+"/0\", prefix: \""+redistest.Prefix(t)+":\"}\n")
	spec := "stacks:\n  net: {name: \"{env}-net\", template: net.yml}\n" +
		"envs:\n  prod:\n    verify:\n      - name: health\n        http: {url: \"" + app.URL + "/health\", retries: 1, interval: 10ms}\n"
	w.Checkout(t, "master")
	good := w.Commit(t, "JIRA-8: health check prod", map[string]string{"code-releaser.yml": spec})
	w.Push(t, "master")
	if code, out, errs := runCLI(t, dir, nil, "deploy", "prod", "--as", "alice", "--config", "c.yml"); code != 0 {
		t.Fatalf("deploy prod: exit %d\n%s\n%s", code, out, errs)
	}
	w.Branch(t, "JIRA-9", "master")
	bad := w.Commit(t, "JIRA-9: a change prod does not survive", map[string]string{"nine.txt": "9\n"})
	w.Push(t, "JIRA-9")
	w.Checkout(t, "master")
	w.Git(t, "merge", "-q", "--ff-only", "JIRA-9")
	w.Push(t, "master")
	healthy.Store(false)
	if code, out, errs := runCLI(t, dir, nil, "release", "JIRA-9", "prod", "--as", "alice", "--config", "c.yml"); code != 1 {
		t.Fatalf("release JIRA-9 to prod with prod unhealthy: exit %d, want 1\n%s\n%s", code, out, errs)
	}
	healthy.Store(true)
	code, out, errs := runCLI(t, dir, nil, "rollback", "JIRA-9", "prod", "--as", "bob", "--config", "c.yml")
	if code != 0 || !strings.Contains(out, "asked to roll back prod to "+good[:7]+" (its deploy before "+bad[:7]+")") || !strings.Contains(out, "rolled back prod") {
		t.Fatalf("rollback JIRA-9 prod: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCLI(t, dir, nil, "diff", "prod", "--config", "c.yml")
	if code != 0 || !strings.Contains(out, good[:7]) {
		t.Errorf("diff prod after the rollback: exit %d\n%s\n%s", code, out, errs)
	}
}
