package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	ana = workflow.User{ID: "U1", Name: "ana"}
	ben = workflow.User{ID: "U2", Name: "ben"}
	cy  = workflow.User{ID: "U3", Name: "cy", Groups: []string{"S0DEVOPS"}}
)

// world is a Service on fakes and the in-memory store.
type world struct {
	svc      *workflow.Service
	repo     *workflowtest.Repo
	store    *store.Memory
	notes    *workflowtest.Notifier
	deployer *workflowtest.Deployer
	tickets  *workflowtest.Tickets
	deps     workflow.Deps
}

func newWorld(t *testing.T, edit ...func(*workflow.Config, *workflow.Deps)) *world {
	t.Helper()
	w := &world{
		repo:     workflowtest.NewRepo(),
		store:    store.NewMemory(nil),
		notes:    &workflowtest.Notifier{},
		deployer: &workflowtest.Deployer{},
		tickets:  workflowtest.NewTickets(),
	}
	for i := 1; i <= 9; i++ {
		w.tickets.Add(workflow.Ticket{Key: workflow.TicketKey(fmt.Sprint("OPS-", i)), Summary: fmt.Sprint("Change ", i), StatusCategory: "indeterminate"})
	}
	var n atomic.Int64
	cfg := workflow.Config{
		Envs: []workflow.Env{
			{Name: "dev"},
			{Name: "stg", Allowed: []string{"S0DEVOPS"}},
			{Name: "prod", Production: true}, // requires_env: see TestRequiresEnv
		},
		PollInterval: time.Millisecond,
	}
	w.deps = workflow.Deps{
		Repo: w.repo, Tickets: w.tickets, Deployer: w.deployer, Store: w.store, Notifier: w.notes,
		NewID: func() string { return fmt.Sprint("r", n.Add(1)) },
	}
	for _, e := range edit {
		e(&cfg, &w.deps)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := workflow.NewService(log, cfg, w.deps)
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	return w
}

// testWriter sends the service's log to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func (w *world) release(t *testing.T, key, env string, u workflow.User) (workflow.Release, error) {
	t.Helper()
	return w.svc.Release(t.Context(), workflow.ReleaseRequest{Ticket: key, Env: env, User: u})
}

func (w *world) mustRelease(t *testing.T, key, env string, u workflow.User) workflow.Release {
	t.Helper()
	r, err := w.release(t, key, env, u)
	if err != nil {
		t.Fatalf("release %s to %s: %v", key, env, err)
	}
	return r
}

func (w *world) occupants(t *testing.T, env string) []workflow.TicketKey {
	t.Helper()
	occ, err := w.store.Occupants(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	var keys []workflow.TicketKey
	for _, o := range occ {
		keys = append(keys, o.Ticket)
	}
	return keys
}

// checkIdle fails unless env's lease is free and its queue empty.
func (w *world) checkIdle(t *testing.T, env string) {
	t.Helper()
	if l, ok, err := w.store.CurrentLease(t.Context(), env); err != nil || ok {
		t.Errorf("%s's lease after the release: %+v, %v, %v; want free", env, l, ok, err)
	}
	if q, err := w.store.Queue(t.Context(), env); err != nil || len(q) > 0 {
		t.Errorf("%s's queue after the release: %v, %v; want empty", env, q, err)
	}
}

func stepNames(r workflow.Release) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Name)
	}
	return out
}

func TestTwoReleasesShareDev(t *testing.T) {
	w := newWorld(t)
	one := w.repo.Commit("OPS-1", "OPS-1 vpc", map[string]string{"vpc.yml": "cidr: 10.1\n"})
	two := w.repo.Commit("feature/OPS-2-queue", "OPS-2 queue", map[string]string{"queue.yml": "fifo: true\n"})

	r1 := w.mustRelease(t, "OPS-1", "dev", ana)
	r2 := w.mustRelease(t, "ops-2", "dev", ben)

	for _, r := range []workflow.Release{r1, r2} {
		if r.State != workflow.StateReleased {
			t.Errorf("%s state = %s, want released", r.ID, r.State)
		}
	}
	if !w.repo.Contains("release/dev", one) || !w.repo.Contains("release/dev", two) {
		t.Errorf("release/dev lacks a ticket: has OPS-1 %v, OPS-2 %v", w.repo.Contains("release/dev", one), w.repo.Contains("release/dev", two))
	}
	if diff := cmp.Diff(w.occupants(t, "dev"), []workflow.TicketKey{"OPS-1", "OPS-2"}); diff != "" {
		t.Errorf("dev occupants (-got +want):\n%s", diff)
	}

	anns := w.notes.Notes("released")
	if len(anns) != 2 {
		t.Fatalf("%d announcements, want 2", len(anns))
	}
	if others := anns[0].Announcement.Others; len(others) != 0 {
		t.Errorf("first announcement mentions %v, want nobody", others)
	}
	second := anns[1].Announcement
	if len(second.Others) != 1 || second.Others[0].Ticket != "OPS-1" || second.Others[0].By != ana.ID {
		t.Errorf("second announcement mentions %+v, want OPS-1 by %s", second.Others, ana.ID)
	}
	if second.Ticket.Summary != "Change 2" || len(second.Occupants) != 2 || second.Deploy.Status != workflow.DeploySucceeded {
		t.Errorf("second announcement = %+v", second)
	}

	// The merge commit names the ticket and carries the trailers.
	wantMsg := "Release OPS-2 to dev\n\nChange 2\n\nReleased-By: code-releaser\nReleased-For: U2\nRelease-Id: r2\n"
	if got := w.repo.Message(w.repo.Head("release/dev")); got != wantMsg {
		t.Errorf("merge message:\n%q\nwant\n%q", got, wantMsg)
	}
	wantDeploys := []workflowtest.Deploy{{Env: "dev", SHA: w.repo.Pushes()[0].New}, {Env: "dev", SHA: w.repo.Pushes()[1].New}}
	if diff := cmp.Diff(w.deployer.Deploys(), wantDeploys); diff != "" {
		t.Errorf("deploys (-got +want):\n%s", diff)
	}
	if p := w.repo.Pushes(); p[0].Old != "" || p[1].Old != p[0].New {
		t.Errorf("pushes %+v: want release/dev created, then moved from its tip", p)
	}

	// The journal is in the store, in order.
	rec, err := w.svc.GetRelease(t.Context(), r2.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantSteps := []string{
		workflow.StepValidated, workflow.StepLeased, workflow.StepFetched, workflow.StepResolved, workflow.StepChecked,
		workflow.StepSynced, workflow.StepMerged, workflow.StepPushed, workflow.StepOccupied, workflow.StepDeploying,
		"stack app-dev", workflow.StepDeployed, workflow.StepAnnounced,
	}
	if diff := cmp.Diff(stepNames(rec), wantSteps); diff != "" {
		t.Errorf("journal (-got +want):\n%s", diff)
	}
	if rec.State != workflow.StateReleased || rec.PushedSHA == "" || rec.DeployedSHA != rec.PushedSHA || rec.Branch != "feature/OPS-2-queue" || rec.TicketSHA != two {
		t.Errorf("record = %+v", rec)
	}
	if r1Steps := stepNames(r1); !slices.Contains(r1Steps, workflow.StepCreated) || slices.Contains(r1Steps, workflow.StepSynced) {
		t.Errorf("first release's journal %v: want release/dev created from master, no sync", r1Steps)
	}
	w.checkIdle(t, "dev")

	hist, err := w.svc.History(t.Context(), "dev", 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range hist {
		actions = append(actions, e.Action+" "+string(e.Ticket))
	}
	wantActions := []string{
		"release.released OPS-2", "deploy OPS-2", "release.requested OPS-2",
		"release.released OPS-1", "deploy OPS-1", "release.requested OPS-1",
	}
	if diff := cmp.Diff(actions, wantActions); diff != "" {
		t.Errorf("history (-got +want):\n%s", diff)
	}
}

func TestConcurrentReleasesBothLand(t *testing.T) {
	w := newWorld(t)
	const n = 5
	for i := 1; i <= n; i++ {
		w.repo.Commit(fmt.Sprint("OPS-", i), "change", map[string]string{fmt.Sprintf("stack%d.yml", i): "x\n"})
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 1; i <= n; i++ {
		wg.Go(func() {
			_, errs[i-1] = w.svc.Release(t.Context(), workflow.ReleaseRequest{Ticket: fmt.Sprint("OPS-", i), Env: "dev", User: ana})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("release OPS-%d: %v", i+1, err)
		}
	}
	got := w.occupants(t, "dev")
	slices.Sort(got)
	if diff := cmp.Diff(got, []workflow.TicketKey{"OPS-1", "OPS-2", "OPS-3", "OPS-4", "OPS-5"}); diff != "" {
		t.Errorf("occupants (-got +want):\n%s", diff)
	}
	files := w.repo.Files("release/dev")
	for i := 1; i <= n; i++ {
		if _, ok := files[fmt.Sprintf("stack%d.yml", i)]; !ok {
			t.Errorf("release/dev lacks OPS-%d's file", i)
		}
	}
	if len(w.repo.Pushes()) != n {
		t.Errorf("%d pushes, want %d", len(w.repo.Pushes()), n)
	}
	w.checkIdle(t, "dev")
}

func TestConflictPushesNothingAndNamesOccupant(t *testing.T) {
	w := newWorld(t)
	w.repo.Commit("master", "shared config", map[string]string{"params/dev.json": "base\n"})
	w.repo.Commit("OPS-1", "OPS-1 params", map[string]string{"params/dev.json": "ana\n", "vpc.yml": "a\n"})
	w.repo.Commit("OPS-2", "OPS-2 other", map[string]string{"queue.yml": "b\n"})
	w.repo.Commit("OPS-3", "OPS-3 params", map[string]string{"params/dev.json": "cy\n"})
	w.mustRelease(t, "OPS-1", "dev", ana)
	w.mustRelease(t, "OPS-2", "dev", ben)
	before := w.repo.Head("release/dev")
	pushes := len(w.repo.Pushes())

	r, err := w.release(t, "OPS-3", "dev", cy)
	if workflow.KindOf(err) != workflow.Conflict {
		t.Fatalf("release OPS-3: err = %v, want a conflict", err)
	}
	var rep *workflow.ConflictReport
	if !errors.As(err, &rep) {
		t.Fatalf("error %v does not carry a ConflictReport", err)
	}
	if rep.Stage != workflow.ConflictTicket || !slices.Equal(rep.Paths(), []string{"params/dev.json"}) {
		t.Errorf("report = %+v, want the ticket's merge conflicting in params/dev.json", rep)
	}
	if len(rep.Culprits) != 1 || rep.Culprits[0].Occupant.Ticket != "OPS-1" || rep.Culprits[0].Occupant.By != ana.ID ||
		!slices.Equal(rep.Culprits[0].Files, []string{"params/dev.json"}) || len(rep.Culprits[0].Commits) != 1 {
		t.Errorf("culprits = %+v, want OPS-1 by ana through params/dev.json", rep.Culprits)
	}
	if msg := workflow.UserMessage(err); !strings.Contains(msg, "OPS-1") || !strings.Contains(msg, "params/dev.json") || !strings.Contains(msg, "nothing was pushed") {
		t.Errorf("user message %q should name OPS-1, the file and say nothing was pushed", msg)
	}
	if got := w.repo.Head("release/dev"); got != before || len(w.repo.Pushes()) != pushes {
		t.Errorf("release/dev moved to %s (pushes %d → %d), want nothing pushed", got, pushes, len(w.repo.Pushes()))
	}
	if len(w.deployer.Deploys()) != 2 {
		t.Errorf("%d deploys, want the first two releases' only", len(w.deployer.Deploys()))
	}
	if r.State != workflow.StateConflict {
		t.Errorf("state = %s, want conflict", r.State)
	}
	if notes := w.notes.Notes("conflict"); len(notes) != 1 || notes[0].Conflict.Culprits[0].Occupant.Ticket != "OPS-1" {
		t.Errorf("conflict notes = %+v, want one naming OPS-1", notes)
	}
	if n := w.notes.Notes("failed"); len(n) != 0 {
		t.Errorf("a conflict was also reported as a failure: %+v", n)
	}
	if diff := cmp.Diff(w.occupants(t, "dev"), []workflow.TicketKey{"OPS-1", "OPS-2"}); diff != "" {
		t.Errorf("occupants (-got +want):\n%s", diff)
	}
	w.checkIdle(t, "dev")
}

func TestSyncConflictSuggestsReset(t *testing.T) {
	w := newWorld(t)
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"net.yml": "ana\n"})
	w.mustRelease(t, "OPS-1", "dev", ana)
	w.repo.Commit("master", "hotfix", map[string]string{"net.yml": "hotfix\n"})
	w.repo.Commit("OPS-2", "OPS-2", map[string]string{"other.yml": "b\n"})
	before := w.repo.Head("release/dev")

	_, err := w.release(t, "OPS-2", "dev", ben)
	var rep *workflow.ConflictReport
	if !errors.As(err, &rep) || rep.Stage != workflow.ConflictSync {
		t.Fatalf("err = %v, want a sync conflict", err)
	}
	if len(rep.Culprits) != 1 || rep.Culprits[0].Occupant.Ticket != "OPS-1" {
		t.Errorf("culprits = %+v, want OPS-1", rep.Culprits)
	}
	if msg := workflow.UserMessage(err); !strings.Contains(msg, "reset") {
		t.Errorf("message %q should suggest a reset", msg)
	}
	if w.repo.Head("release/dev") != before {
		t.Error("release/dev moved")
	}
	w.checkIdle(t, "dev")
}

func TestPushRaceRetries(t *testing.T) {
	w := newWorld(t)
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
	w.mustRelease(t, "OPS-1", "dev", ana)
	w.repo.Commit("OPS-2", "OPS-2", map[string]string{"b.yml": "b\n"})

	var raced atomic.Int32
	w.repo.BeforePush = func(branch string) {
		if raced.Add(1) == 1 {
			w.repo.Commit(branch, "outside push", map[string]string{"outside.yml": "o\n"})
		}
	}
	r := w.mustRelease(t, "OPS-2", "dev", ben)
	if !slices.Contains(stepNames(r), workflow.StepRetry) {
		t.Errorf("journal %v has no retry", stepNames(r))
	}
	files := w.repo.Files("release/dev")
	for _, f := range []string{"a.yml", "b.yml", "outside.yml"} {
		if _, ok := files[f]; !ok {
			t.Errorf("release/dev lacks %s after the retry; has %v", f, files)
		}
	}
	if diff := cmp.Diff(w.occupants(t, "dev"), []workflow.TicketKey{"OPS-1", "OPS-2"}); diff != "" {
		t.Errorf("occupants (-got +want):\n%s", diff)
	}
	w.checkIdle(t, "dev")
}

func TestPushRaceGivesUp(t *testing.T) {
	w := newWorld(t, func(c *workflow.Config, _ *workflow.Deps) { c.PushAttempts = 3 })
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
	var n atomic.Int32
	w.repo.BeforePush = func(branch string) {
		w.repo.Commit(branch, "outside push", map[string]string{fmt.Sprintf("o%d.yml", n.Add(1)): "o\n"})
	}
	r, err := w.release(t, "OPS-1", "dev", ana)
	if workflow.KindOf(err) != workflow.Busy || !errors.Is(err, workflow.ErrRefMoved) {
		t.Fatalf("err = %v, want busy wrapping ErrRefMoved", err)
	}
	if n.Load() != 3 {
		t.Errorf("%d push attempts, want 3", n.Load())
	}
	if r.State != workflow.StateFailed || len(w.deployer.Deploys()) != 0 || len(w.repo.Pushes()) != 0 {
		t.Errorf("state %s, deploys %v, pushes %v; want failed, none, none", r.State, w.deployer.Deploys(), w.repo.Pushes())
	}
	w.checkIdle(t, "dev")
}

// panicDeployer panics, as a bug would.
type panicDeployer struct{}

func (panicDeployer) Deploy(context.Context, workflow.Env, string, workflow.Progress) (workflow.DeployResult, error) {
	panic("deployer bug")
}

func TestLeaseReleasedOnError(t *testing.T) {
	boom := workflow.Errorf("git", workflow.Unavailable, "the remote did not answer")
	tests := []struct {
		name  string
		setup func(w *world)
		kind  workflow.Kind
		state workflow.ReleaseState
	}{
		{"fetch", func(w *world) { w.repo.Fail("Fetch", boom) }, workflow.Unavailable, workflow.StateFailed},
		{"resolve", func(w *world) { w.repo.Fail("ResolveTicket", boom) }, workflow.Unavailable, workflow.StateFailed},
		{"merge", func(w *world) { w.repo.Fail("Merge", boom) }, workflow.Unavailable, workflow.StateFailed},
		{"push", func(w *world) { w.repo.Fail("Push", boom) }, workflow.Unavailable, workflow.StateFailed},
		{"deploy error", func(w *world) { w.deployer.FailWith("", boom) }, workflow.Unavailable, workflow.StateFailed},
		{"deploy failed", func(w *world) { w.deployer.FailWith(workflow.DeployFailed, nil) }, workflow.Invalid, workflow.StateFailed},
		{"no branch", func(w *world) {}, workflow.NotFound, workflow.StateRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.name != "no branch" {
				w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
			}
			tt.setup(w)
			r, err := w.release(t, "OPS-1", "dev", ana)
			if err == nil || workflow.KindOf(err) != tt.kind {
				t.Fatalf("err = %v (kind %v), want kind %v", err, workflow.KindOf(err), tt.kind)
			}
			w.checkIdle(t, "dev")
			rec, gerr := w.svc.GetRelease(t.Context(), r.ID)
			if gerr != nil {
				t.Fatal(gerr)
			}
			if rec.State != tt.state || rec.Error == "" || stepNames(rec)[len(rec.Steps)-1] != workflow.StepFailed {
				t.Errorf("record state %s, error %q, steps %v; want %s with a reason", rec.State, rec.Error, stepNames(rec), tt.state)
			}
			if n := w.notes.Notes("failed"); len(n) != 1 {
				t.Errorf("%d failure notes, want 1", len(n))
			}
			hist, _ := w.svc.History(t.Context(), "dev", 1)
			if len(hist) != 1 || (hist[0].Action != workflow.ActionFailed && hist[0].Action != workflow.ActionRefused) {
				t.Errorf("last audit event %+v, want the failure", hist)
			}
		})
	}

	t.Run("panic", func(t *testing.T) {
		w := newWorld(t, func(_ *workflow.Config, d *workflow.Deps) { d.Deployer = panicDeployer{} })
		w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
		func() {
			defer func() {
				if p := recover(); p == nil {
					t.Error("the panic did not reach the caller")
				}
			}()
			w.release(t, "OPS-1", "dev", ana)
		}()
		w.checkIdle(t, "dev")
		rec, err := w.store.GetRelease(t.Context(), "r1")
		if err != nil || rec.State != workflow.StateFailed {
			t.Errorf("record after a panic: %+v, %v; want failed", rec, err)
		}
	})
}

func TestProd(t *testing.T) {
	w := newWorld(t)
	w.repo.Commit("OPS-5", "OPS-5", map[string]string{"prod.yml": "x\n"})
	before := w.repo.Head("master")

	r, err := w.release(t, "OPS-5", "prod", ana)
	if workflow.KindOf(err) != workflow.Forbidden {
		t.Fatalf("prod release of a ticket not in master: err = %v, want forbidden", err)
	}
	if msg := workflow.UserMessage(err); !strings.Contains(msg, "not in master") {
		t.Errorf("message %q should say the ticket is not in master", msg)
	}
	if r.State != workflow.StateRefused || len(w.deployer.Deploys()) != 0 || len(w.repo.Pushes()) != 0 || w.repo.Head("master") != before {
		t.Errorf("state %s, deploys %v, pushes %v: want refused, nothing done", r.State, w.deployer.Deploys(), w.repo.Pushes())
	}
	w.checkIdle(t, "prod")

	master := w.repo.MergeBranch("master", "OPS-5", "Merge pull request #5 from OPS-5")
	r = w.mustRelease(t, "OPS-5", "prod", ana)
	if diff := cmp.Diff(w.deployer.Deploys(), []workflowtest.Deploy{{Env: "prod", SHA: master}}); diff != "" {
		t.Errorf("deploys (-got +want):\n%s", diff)
	}
	if len(w.repo.Pushes()) != 0 {
		t.Errorf("prod pushed %v, want nothing", w.repo.Pushes())
	}
	if r.DeployedSHA != master || !slices.Contains(stepNames(r), workflow.StepApproval) {
		t.Errorf("record %+v: want master deployed after the approval step", r)
	}
	last, ok, err := w.store.LastDeploy(t.Context(), "prod")
	if err != nil || !ok || last.Result.SHA != master {
		t.Errorf("prod's last deploy = %+v, %v, %v; want %s", last, ok, err, master)
	}
	w.checkIdle(t, "prod")
}

func TestProdWithoutBranch(t *testing.T) {
	w := newWorld(t)
	// A first prod deploy records where prod is.
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
	w.repo.MergeBranch("master", "OPS-1", "Merge OPS-1")
	w.mustRelease(t, "OPS-1", "prod", ana)
	// OPS-6 was merged by a squash and its branch deleted.
	w.repo.Commit("master", "OPS-6: rotate keys (#6)", map[string]string{"keys.yml": "new\n"})
	w.mustRelease(t, "OPS-6", "prod", ana)
	// OPS-7 has no branch and no commit.
	if _, err := w.release(t, "OPS-7", "prod", ana); workflow.KindOf(err) != workflow.NotFound {
		t.Errorf("prod release of OPS-7 without branch or commit: err = %v, want not found", err)
	}
}

func TestRejectedBeforeAnyRepoCall(t *testing.T) {
	tests := []struct {
		key, env string
		user     workflow.User
		kind     workflow.Kind
	}{
		{"OPS-1", "nope", ana, workflow.Invalid},
		{"OPS-1", "DEV", ana, workflow.Invalid},
		{"OPS-1", "dev;rm", ana, workflow.Invalid},
		{"OPS-1", "../dev", ana, workflow.Invalid},
		{"OPS-1", "", ana, workflow.Invalid},
		{"OPS 1", "dev", ana, workflow.Invalid},
		{"-x", "dev", ana, workflow.Invalid},
		{"a:b", "dev", ana, workflow.Invalid},
		{"..", "dev", ana, workflow.Invalid},
		{"OPS-1:refs/heads/master", "dev", ana, workflow.Invalid},
		{"OPS-1\x07", "dev", ana, workflow.Invalid},
		{"OPS-١", "dev", ana, workflow.Invalid},
		{"OPS-" + strings.Repeat("9", 70), "dev", ana, workflow.Invalid},
		{"OPS-1", "dev", workflow.User{}, workflow.Invalid},
		{"OPS-1", "stg", ana, workflow.Forbidden},
		{"OPS-404", "dev", ana, workflow.NotFound},
		{"HR-1", "dev", ana, workflow.Forbidden}, // policy
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/%q", tt.key, tt.env), func(t *testing.T) {
			w := newWorld(t, func(c *workflow.Config, _ *workflow.Deps) { c.Policy.Projects = []string{"OPS"} })
			w.tickets.Add(workflow.Ticket{Key: "HR-1"})
			r, err := w.release(t, tt.key, tt.env, tt.user)
			if workflow.KindOf(err) != tt.kind || workflow.UserMessage(err) == "" {
				t.Errorf("err = %v (kind %v), want kind %v with a message", err, workflow.KindOf(err), tt.kind)
			}
			if r.ID != "" {
				t.Errorf("a release was recorded: %+v", r)
			}
			if calls := w.repo.Calls(); len(calls) != 0 {
				t.Errorf("Repo called: %v", calls)
			}
			if n := w.notes.Notes(""); len(n) != 0 {
				t.Errorf("notified: %+v", n)
			}
		})
	}
	// An allowed group member passes the allow list.
	w := newWorld(t)
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
	w.mustRelease(t, "OPS-1", "stg", cy)
}

func TestGraduatedTicketsLeave(t *testing.T) {
	w := newWorld(t)
	one := w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
	w.repo.Commit("OPS-2", "OPS-2", map[string]string{"b.yml": "b\n"})
	w.mustRelease(t, "OPS-1", "dev", ana)
	w.repo.MergeBranch("master", "OPS-1", "Merge pull request #1 from OPS-1")

	w.mustRelease(t, "OPS-2", "dev", ben)
	if diff := cmp.Diff(w.occupants(t, "dev"), []workflow.TicketKey{"OPS-2"}); diff != "" {
		t.Errorf("occupants (-got +want):\n%s", diff)
	}
	anns := w.notes.Notes("released")
	a := anns[len(anns)-1].Announcement
	if len(a.Graduated) != 1 || a.Graduated[0].Ticket != "OPS-1" || a.Graduated[0].TicketSHA != one || len(a.Others) != 0 {
		t.Errorf("announcement graduated %+v, others %+v; want OPS-1 graduated, nobody else", a.Graduated, a.Others)
	}
	hist, _ := w.svc.History(t.Context(), "dev", 0)
	if !slices.ContainsFunc(hist, func(e workflow.Event) bool { return e.Action == workflow.ActionGraduated && e.Ticket == "OPS-1" }) {
		t.Errorf("history has no graduation of OPS-1: %+v", hist)
	}
	if !w.repo.Contains("release/dev", w.repo.Head("master")) {
		t.Error("master was not synced into release/dev")
	}
}

func TestPollutedBranchRefused(t *testing.T) {
	w := newWorld(t)
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
	w.mustRelease(t, "OPS-1", "dev", ana)
	w.repo.Commit("OPS-4", "OPS-4", map[string]string{"d.yml": "d\n"})
	w.repo.MergeBranch("OPS-4", "release/dev", "Merge branch 'release/dev' into OPS-4")
	before := w.repo.Head("release/dev")

	_, err := w.release(t, "OPS-4", "dev", ben)
	if workflow.KindOf(err) != workflow.Invalid || !strings.Contains(workflow.UserMessage(err), "Release OPS-1 to dev") {
		t.Errorf("err = %v, want invalid naming the release merge", err)
	}
	if w.repo.Head("release/dev") != before {
		t.Error("release/dev moved")
	}
	w.checkIdle(t, "dev")
}

func TestReleaseAgainIsUpToDate(t *testing.T) {
	w := newWorld(t)
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
	w.mustRelease(t, "OPS-1", "dev", ana)
	r := w.mustRelease(t, "OPS-1", "dev", ben)
	if len(w.repo.Pushes()) != 1 || r.PushedSHA != "" {
		t.Errorf("pushes %v, pushed %q; want nothing new pushed", w.repo.Pushes(), r.PushedSHA)
	}
	occ, _ := w.store.Occupants(t.Context(), "dev")
	if len(occ) != 1 || occ[0].By != ben.ID || occ[0].ReleaseID != r.ID {
		t.Errorf("occupants %+v, want OPS-1 once, refreshed by ben", occ)
	}
	// A new commit on the ticket is merged again.
	w.repo.Commit("OPS-1", "OPS-1 more", map[string]string{"a.yml": "a2\n"})
	w.mustRelease(t, "OPS-1", "dev", ana)
	if got := w.repo.Files("release/dev")["a.yml"]; got != "a2\n" {
		t.Errorf("a.yml = %q after releasing the new commit, want a2", got)
	}
}

// waitNote waits until the notifier has a note of kind what for release id.
func waitNote(t *testing.T, n *workflowtest.Notifier, what, id string, ok func(workflowtest.Note) bool) workflowtest.Note {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, note := range n.Notes(what) {
			if note.Release.ID == id && (ok == nil || ok(note)) {
				return note
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no %s note for %s", what, id)
	return workflowtest.Note{}
}

func TestQueueFIFOBehindLease(t *testing.T) {
	w := newWorld(t)
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
	w.repo.Commit("OPS-2", "OPS-2", map[string]string{"b.yml": "b\n"})
	ctx := t.Context()
	if _, ok, err := w.store.AcquireLease(ctx, "dev", workflow.Lease{Token: "maintenance", By: "U9"}, time.Minute); !ok || err != nil {
		t.Fatal("could not take dev's lease", err)
	}
	done := make(chan error, 2)
	go func() {
		_, err := w.svc.Release(ctx, workflow.ReleaseRequest{Ticket: "OPS-1", Env: "dev", User: ana, ID: "first"})
		done <- err
	}()
	q1 := waitNote(t, w.notes, "queued", "first", nil)
	if q1.Waiting.Position != 1 || q1.Waiting.Holder == nil || q1.Waiting.Holder.Token != "maintenance" {
		t.Errorf("first waits %+v, want position 1 behind maintenance", q1.Waiting)
	}
	go func() {
		_, err := w.svc.Release(ctx, workflow.ReleaseRequest{Ticket: "OPS-2", Env: "dev", User: ben, ID: "second"})
		done <- err
	}()
	waitNote(t, w.notes, "queued", "second", func(n workflowtest.Note) bool { return n.Waiting.Position == 2 })

	st, err := w.svc.Status(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{st[0].Queue[0].ID, st[0].Queue[1].ID}; !slices.Equal(got, []string{"first", "second"}) || st[0].Lease.Token != "maintenance" {
		t.Errorf("status queue %v, lease %+v; want first, second behind maintenance", got, st[0].Lease)
	}

	if _, err := w.store.ReleaseLease(ctx, "dev", "maintenance"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if diff := cmp.Diff(w.occupants(t, "dev"), []workflow.TicketKey{"OPS-1", "OPS-2"}); diff != "" {
		t.Errorf("occupants in release order (-got +want):\n%s", diff)
	}
	w.checkIdle(t, "dev")
}

func TestHoldQueuesRelease(t *testing.T) {
	w := newWorld(t)
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
	ctx := t.Context()
	if err := w.store.SetHold(ctx, workflow.Hold{Env: "dev", By: "U9", Reason: "testing payments"}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.svc.Release(ctx, workflow.ReleaseRequest{Ticket: "OPS-1", Env: "dev", User: ana, ID: "held"})
		done <- err
	}()
	q := waitNote(t, w.notes, "queued", "held", nil)
	if q.Waiting.Hold == nil || q.Waiting.Hold.Reason != "testing payments" {
		t.Errorf("waiting %+v, want the hold", q.Waiting)
	}
	if len(w.repo.Calls()) != 0 {
		t.Errorf("a held release called the repo: %v", w.repo.Calls())
	}
	if _, err := w.store.ClearHold(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestCancelledWhileQueued(t *testing.T) {
	w := newWorld(t)
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
	ctx := t.Context()
	w.store.AcquireLease(ctx, "dev", workflow.Lease{Token: "other"}, time.Minute)

	// Removal from the queue (cancel TICKET ENV) stops the release's
	// inline worker (RunUntil) before its job starts.
	done := make(chan error, 1)
	go func() {
		_, err := w.svc.Release(ctx, workflow.ReleaseRequest{Ticket: "OPS-1", Env: "dev", User: ana, ID: "c1"})
		done <- err
	}()
	waitNote(t, w.notes, "queued", "c1", nil)
	w.store.RemoveQueued(ctx, "dev", "c1")
	if err := <-done; workflow.KindOf(err) != workflow.Busy {
		t.Errorf("err = %v, want busy (left the queue)", err)
	}

	// So does the caller's context, and the entry leaves the queue.
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		_, err := w.svc.Release(cctx, workflow.ReleaseRequest{Ticket: "OPS-1", Env: "dev", User: ana, ID: "c2"})
		done <- err
	}()
	waitNote(t, w.notes, "queued", "c2", nil)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if q, _ := w.store.Queue(ctx, "dev"); len(q) != 0 {
		t.Errorf("queue = %v after cancellation, want empty", q)
	}
	rec, _ := w.store.GetRelease(ctx, "c2")
	if rec.State != workflow.StateFailed {
		t.Errorf("cancelled release state %s, want failed", rec.State)
	}
}

func TestLeaseLostStopsWork(t *testing.T) {
	// The deploy blocks until its context ends while another holder takes
	// the lease: the release must stop, say the lease was lost, and leave
	// the new holder's lease alone, and the job to whoever next holds the
	// lease: it is not failed, it stays queued and is resumed.
	stolen := make(chan struct{})
	var deploys atomic.Int32
	blocking := deployFunc(func(ctx context.Context) (workflow.DeployResult, error) {
		if deploys.Add(1) > 1 {
			return workflow.DeployResult{Status: workflow.DeploySucceeded}, nil
		}
		close(stolen)
		<-ctx.Done()
		return workflow.DeployResult{}, ctx.Err()
	})
	w := newWorld(t, func(c *workflow.Config, d *workflow.Deps) {
		c.LeaseTTL = 30 * time.Millisecond
		d.Deployer = blocking
	})
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
	go func() {
		<-stolen
		l, _, _ := w.store.CurrentLease(t.Context(), "dev")
		w.store.ReleaseLease(t.Context(), "dev", l.Token)
		w.store.AcquireLease(t.Context(), "dev", workflow.Lease{Token: "thief"}, time.Minute)
	}()
	r, err := w.release(t, "OPS-1", "dev", ana)
	if !errors.Is(err, workflow.ErrLeaseLost) {
		t.Errorf("err = %v, want ErrLeaseLost", err)
	}
	if r.State.Final() {
		t.Errorf("state = %s, want it left unfinished for the next holder of the lease", r.State)
	}
	if q, _ := w.store.Queue(t.Context(), "dev"); len(q) != 1 || q[0].ID != r.ID {
		t.Errorf("queue %v, want the job still at its head", q)
	}
	if l, ok, _ := w.store.CurrentLease(t.Context(), "dev"); !ok || l.Token != "thief" {
		t.Errorf("lease %+v: the losing release must not release the thief's lease", l)
	}
	if d, ok, _ := w.store.LastDeploy(t.Context(), "dev"); ok {
		t.Errorf("an interrupted deploy was recorded: %+v", d)
	}

	// Once the thief is gone, a worker resumes it: pushed once, deployed.
	w.store.ReleaseLease(t.Context(), "dev", "thief")
	w.startWorkers(t, 1, workflow.WorkerConfig{})
	got := w.waitFinal(t, r.ID, 5*time.Second)
	if got.State != workflow.StateReleased || !slices.Contains(stepNames(got), workflow.StepResumed) {
		t.Errorf("after the thief: %s (%s), journal %v; want released, resumed", got.State, got.Error, stepNames(got))
	}
	if p := w.repo.Pushes(); len(p) != 1 {
		t.Errorf("pushes %v, want one", p)
	}
}

type deployFunc func(ctx context.Context) (workflow.DeployResult, error)

func (f deployFunc) Deploy(ctx context.Context, _ workflow.Env, _ string, _ workflow.Progress) (workflow.DeployResult, error) {
	return f(ctx)
}

func TestStatus(t *testing.T) {
	w := newWorld(t)
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
	r := w.mustRelease(t, "OPS-1", "dev", ana)
	ctx := t.Context()
	w.store.SetHold(ctx, workflow.Hold{Env: "stg", By: "U9", Reason: "load test"})

	all, err := w.svc.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range all {
		names = append(names, s.Env.Name)
	}
	if diff := cmp.Diff(names, []string{"dev", "stg", "prod"}); diff != "" {
		t.Errorf("envs (-got +want):\n%s", diff)
	}
	dev := all[0]
	if dev.Env.Branch != "release/dev" || len(dev.Occupants) != 1 || dev.LastDeploy == nil || dev.LastDeploy.Result.SHA != r.DeployedSHA || dev.Lease != nil || dev.Hold != nil {
		t.Errorf("dev status = %+v", dev)
	}
	if all[1].Hold == nil || all[1].Hold.Reason != "load test" || all[2].Env.Branch != "master" {
		t.Errorf("stg/prod status = %+v / %+v", all[1], all[2])
	}
	want := workflow.Occupant{Ticket: "OPS-1", Branch: "OPS-1", TicketSHA: w.repo.Head("OPS-1"), MergeSHA: r.PushedSHA, By: ana.ID, ReleaseID: r.ID}
	if diff := cmp.Diff(dev.Occupants[0], want, cmpopts.IgnoreFields(workflow.Occupant{}, "At")); diff != "" {
		t.Errorf("occupant (-got +want):\n%s", diff)
	}
	if _, err := w.svc.Status(ctx, "nope"); workflow.KindOf(err) != workflow.Invalid {
		t.Errorf("Status(nope): err = %v, want invalid", err)
	}
	if _, err := w.svc.History(ctx, "Dev", 5); workflow.KindOf(err) != workflow.Invalid {
		t.Errorf("History(Dev): err = %v, want invalid", err)
	}
}

// trailAtAnnouncement is a Notifier that, when a release is announced,
// reads the env's trail as a user who asks for the next env at once would
// have it read.
type trailAtAnnouncement struct {
	*workflowtest.Notifier
	store *store.Memory
	mu    sync.Mutex
	seen  map[string][]workflow.Event // by release id: its events then
}

func (n *trailAtAnnouncement) Released(ctx context.Context, a workflow.Announcement) error {
	evs, err := n.store.Events(ctx, a.Env.Name, 0)
	if err != nil {
		return err
	}
	n.mu.Lock()
	for _, e := range evs {
		if e.ReleaseID == a.Release.ID {
			n.seen[a.Release.ID] = append(n.seen[a.Release.ID], e)
		}
	}
	n.mu.Unlock()
	return n.Notifier.Released(ctx, a)
}

// TestAnnouncedReleaseIsInTheTrail: a release is in its env's trail
// before it is announced, once. prod requires stg and reads stg's trail
// for a ticket already in master (not an occupant): someone who saw
// "released to stg" and asked for prod at once was refused with "has not
// been released to stg" when the trail was written after the announcement.
func TestAnnouncedReleaseIsInTheTrail(t *testing.T) {
	var n *trailAtAnnouncement
	w := newWorld(t, func(c *workflow.Config, d *workflow.Deps) {
		c.Envs[2].RequiresEnv = "stg"
		n = &trailAtAnnouncement{Notifier: &workflowtest.Notifier{}, store: d.Store.(*store.Memory), seen: map[string][]workflow.Event{}}
		d.Notifier = n
	})
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"one.yml": "1\n"})
	w.repo.Commit("OPS-2", "OPS-2", map[string]string{"two.yml": "2\n"})
	w.repo.MergeBranch("master", "OPS-1", "Merge pull request #1 from OPS-1")
	for _, r := range []workflow.Release{w.mustRelease(t, "OPS-2", "dev", ana), w.mustRelease(t, "OPS-1", "stg", cy), w.mustRelease(t, "OPS-1", "prod", ana)} {
		n.mu.Lock()
		seen := n.seen[r.ID]
		n.mu.Unlock()
		var released int
		for _, e := range seen {
			if e.Action == workflow.ActionReleased {
				released++
			}
		}
		if released != 1 {
			t.Errorf("%s to %s: %d %q events in the trail when it was announced, want 1 (%+v)", r.Ticket, r.Env, released, workflow.ActionReleased, seen)
		}
		evs, err := w.store.Events(t.Context(), r.Env, 0)
		if err != nil {
			t.Fatal(err)
		}
		released = 0
		for _, e := range evs {
			if e.ReleaseID == r.ID && e.Action == workflow.ActionReleased {
				released++
			}
		}
		if released != 1 {
			t.Errorf("%s to %s: %d %q events in the trail at the end, want 1", r.Ticket, r.Env, released, workflow.ActionReleased)
		}
	}
}

// flushedAtAnnouncement is the in-memory store losing its data the moment
// a release is announced, as Redis does on FLUSHALL: its epoch changes and
// the events appended before are gone.
type flushedAtAnnouncement struct {
	*store.Memory
	mu      sync.Mutex
	flushed time.Time
}

func (s *flushedAtAnnouncement) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushed = time.Now()
}

func (s *flushedAtAnnouncement) Epoch(ctx context.Context) (string, bool, error) {
	s.mu.Lock()
	flushed := !s.flushed.IsZero()
	s.mu.Unlock()
	if flushed {
		return "after-the-flush", false, nil
	}
	return s.Memory.Epoch(ctx)
}

func (s *flushedAtAnnouncement) Events(ctx context.Context, env string, n int) ([]workflow.Event, error) {
	evs, err := s.Memory.Events(ctx, env, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	var kept []workflow.Event
	for _, e := range evs {
		if s.flushed.IsZero() || !e.At.Before(s.flushed) {
			kept = append(kept, e)
		}
	}
	return kept, err
}

type flushOnRelease struct {
	*workflowtest.Notifier
	store *flushedAtAnnouncement
}

func (n flushOnRelease) Released(ctx context.Context, a workflow.Announcement) error {
	n.store.flush()
	return n.Notifier.Released(ctx, a)
}

// TestReleasedSurvivesAFlushAfterTheAnnouncement: when the store loses its
// data between the announcement (which put the release in the trail) and
// the release's end, the end writes it in the trail again.
func TestReleasedSurvivesAFlushAfterTheAnnouncement(t *testing.T) {
	var st *flushedAtAnnouncement
	w := newWorld(t, func(c *workflow.Config, d *workflow.Deps) {
		st = &flushedAtAnnouncement{Memory: d.Store.(*store.Memory)}
		d.Store = st
		d.Notifier = flushOnRelease{Notifier: &workflowtest.Notifier{}, store: st}
	})
	w.repo.Commit("OPS-2", "OPS-2", map[string]string{"two.yml": "2\n"})
	r := w.mustRelease(t, "OPS-2", "dev", ana)
	evs, err := st.Events(t.Context(), "dev", 0)
	if err != nil {
		t.Fatal(err)
	}
	var released int
	for _, e := range evs {
		if e.ReleaseID == r.ID && e.Action == workflow.ActionReleased {
			released++
		}
	}
	if released != 1 {
		t.Errorf("%d %q events in dev's trail after the flush, want 1: %+v", released, workflow.ActionReleased, evs)
	}
}
