package gitrepo_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/integrations/gitrepo"
	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

const scenarioToken = "scenario-token"

// scenarioRemote makes a remote served over HTTP with basic auth: master
// with three files, and ticket branches JIRA-1 (a.txt), JIRA-2 (b.txt) and
// JIRA-3 (a.txt, the same line as JIRA-1). It returns the remote, a work
// clone and the HTTP URL.
func scenarioRemote(t *testing.T) (*gittest.Remote, *gittest.Work, string) {
	t.Helper()
	r := gittest.NewRemote(t, "", "infra")
	w := r.Clone(t)
	w.Commit(t, "initial", map[string]string{"a.txt": "a\n", "b.txt": "b\n", "c.txt": "c\n"})
	w.Push(t, "master")
	for _, b := range []struct{ name, path, body string }{
		{"JIRA-1", "a.txt", "a1\n"},
		{"JIRA-2", "b.txt", "b2\n"},
		{"JIRA-3", "a.txt", "a3\n"},
	} {
		w.Branch(t, b.name, "master")
		w.Commit(t, b.name+": edit "+b.path, map[string]string{b.path: b.body})
		w.Push(t, b.name)
	}
	w.Checkout(t, "master")
	base := gittest.HTTPServer(t, filepath.Dir(r.Dir), "x-access-token", scenarioToken)
	return r, w, base + "/" + filepath.Base(r.Dir)
}

func scenarioMirror(t *testing.T, url string) *gitrepo.Mirror {
	t.Helper()
	m, err := gitrepo.Open(context.Background(), slog.New(slog.DiscardHandler), gitrepo.Config{
		URL:      url,
		CacheDir: t.TempDir(),
		Auth:     gitrepo.Auth{Token: scenarioToken},
		BotEmail: "bot@example.com",
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func scenarioService(t *testing.T, repo workflow.Repo, st workflow.Store) *workflow.Service {
	t.Helper()
	svc, err := workflow.NewService(nil, workflow.Config{
		Envs:         []workflow.Env{{Name: "dev"}},
		PollInterval: 20 * time.Millisecond,
	}, workflow.Deps{Repo: repo, Store: st, Notifier: &workflowtest.Notifier{}})
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	return svc
}

func release(ctx context.Context, svc *workflow.Service, ticket, user string) error {
	_, err := svc.Release(ctx, workflow.ReleaseRequest{Ticket: ticket, Env: "dev", User: workflow.User{ID: user}})
	return err
}

func wantAncestor(t *testing.T, r *gittest.Remote, rev, of string) {
	t.Helper()
	if _, err := gittest.RunGit(r.Dir, nil, "merge-base", "--is-ancestor", rev, of); err != nil {
		t.Errorf("%s is not in %s on the remote: %v", rev, of, err)
	}
}

func scenarioCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestScenarioConcurrentReleases(t *testing.T) {
	r, _, url := scenarioRemote(t)
	ctx := scenarioCtx(t)
	st := store.NewMemory(nil)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, ticket := range []string{"JIRA-1", "JIRA-2"} {
		svc := scenarioService(t, scenarioMirror(t, url), st)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = release(ctx, svc, ticket, "user"+ticket)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("release %d: %v", i+1, err)
		}
	}
	for _, ticket := range []string{"JIRA-1", "JIRA-2"} {
		wantAncestor(t, r, "refs/heads/"+ticket, "refs/heads/release/dev")
	}
	wantOccupants(t, st, "JIRA-1", "JIRA-2")
}

// racingRepo pushes an outside commit to release/dev before the first Push.
type racingRepo struct {
	*gitrepo.Mirror
	once  sync.Once
	race  func()
	calls int
}

func (r *racingRepo) Push(ctx context.Context, branch, old, new string) error {
	r.calls++
	r.once.Do(r.race)
	return r.Mirror.Push(ctx, branch, old, new)
}

func TestScenarioPushRace(t *testing.T) {
	r, w, url := scenarioRemote(t)
	ctx := scenarioCtx(t)
	// release/dev exists on the remote so that the outside push has a base.
	w.Push(t, "master:refs/heads/release/dev")
	var outside string
	repo := &racingRepo{Mirror: scenarioMirror(t, url)}
	repo.race = func() {
		o := r.Clone(t)
		o.Git(t, "checkout", "--quiet", "-b", "release/dev", "origin/release/dev")
		outside = o.Commit(t, "outside change", map[string]string{"c.txt": "c outside\n"})
		o.Push(t, "release/dev")
	}
	svc := scenarioService(t, repo, store.NewMemory(nil))
	if err := release(ctx, svc, "JIRA-1", "alice"); err != nil {
		t.Fatalf("release: %v", err)
	}
	if repo.calls < 2 {
		t.Errorf("Push called %d times, want a retry after the race", repo.calls)
	}
	wantAncestor(t, r, outside, "refs/heads/release/dev")
	wantAncestor(t, r, "refs/heads/JIRA-1", "refs/heads/release/dev")
}

func TestScenarioConflict(t *testing.T) {
	r, _, url := scenarioRemote(t)
	ctx := scenarioCtx(t)
	svc := scenarioService(t, scenarioMirror(t, url), store.NewMemory(nil))
	if err := release(ctx, svc, "JIRA-1", "alice"); err != nil {
		t.Fatalf("release JIRA-1: %v", err)
	}
	before := r.Tip(t, "release/dev")
	err := release(ctx, svc, "JIRA-3", "carol")
	if err == nil {
		t.Fatal("release JIRA-3: nil error, want a conflict")
	}
	if got := workflow.KindOf(err); got != workflow.Conflict {
		t.Fatalf("KindOf(%v) = %v, want Conflict", err, got)
	}
	if after := r.Tip(t, "release/dev"); after != before {
		t.Errorf("release/dev moved from %s to %s", before, after)
	}
}

// TestScenarioPushAnswerLost releases through a remote that applies every
// push and drops the connection before answering: the release is
// released, its record has the pushed commit and the ticket occupies dev,
// so the next release finds it there.
func TestScenarioPushAnswerLost(t *testing.T) {
	r := gittest.NewRemote(t, "", "infra")
	w := r.Clone(t)
	w.Commit(t, "initial", map[string]string{"a.txt": "a\n", "b.txt": "b\n"})
	w.Push(t, "master")
	for _, b := range []struct{ name, path string }{{"JIRA-1", "a.txt"}, {"JIRA-2", "b.txt"}} {
		w.Branch(t, b.name, "master")
		w.Commit(t, b.name, map[string]string{b.path: b.name + "\n"})
		w.Push(t, b.name)
	}
	var lost atomic.Int32
	h := gittest.LosePushAnswers(t, gittest.HTTPHandler(t, filepath.Dir(r.Dir), "x-access-token", scenarioToken),
		func() bool { lost.Add(1); return true })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx := scenarioCtx(t)
	st := store.NewMemory(nil)
	svc := scenarioService(t, scenarioMirror(t, srv.URL+"/"+filepath.Base(r.Dir)), st)

	for _, ticket := range []string{"JIRA-1", "JIRA-2"} {
		rec, err := svc.Release(ctx, workflow.ReleaseRequest{Ticket: ticket, Env: "dev", User: workflow.User{ID: "alice"}})
		if err != nil {
			t.Fatalf("release %s: %v", ticket, err)
		}
		if rec.State != workflow.StateReleased {
			t.Errorf("%s: state %s, want released", ticket, rec.State)
		}
		tip := r.Tip(t, "release/dev")
		if rec.PushedSHA != tip {
			t.Errorf("%s: record's pushed SHA %q, want the remote's release/dev %q", ticket, rec.PushedSHA, tip)
		}
		stored, err := st.GetRelease(ctx, rec.ID)
		if err != nil || stored.PushedSHA != tip || stored.State != workflow.StateReleased {
			t.Errorf("%s: stored record %s pushed %q (%v), want released with %q", ticket, stored.State, stored.PushedSHA, err, tip)
		}
		wantAncestor(t, r, "refs/heads/"+ticket, "refs/heads/release/dev")
	}
	if n := lost.Load(); n != 2 {
		t.Errorf("%d push answers lost, want 2", n)
	}
	wantOccupants(t, st, "JIRA-1", "JIRA-2")
}

// wantOccupants checks dev's occupants, in ticket order.
func wantOccupants(t *testing.T, st workflow.Store, want ...string) {
	t.Helper()
	occ, err := st.Occupants(context.Background(), "dev")
	if err != nil {
		t.Fatalf("Occupants: %v", err)
	}
	var got []string
	for _, o := range occ {
		got = append(got, string(o.Ticket))
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("occupants = %v, want %v", got, want)
	}
}
