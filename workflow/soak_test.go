package workflow_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

// soakNotes records the soak overrides the Service tells about.
type soakNotes struct {
	*lifeNotes
	mu         sync.Mutex
	overridden []workflow.SoakReport
}

func (n *soakNotes) SoakOverridden(_ context.Context, _ workflow.Release, rep workflow.SoakReport) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.overridden = append(n.overridden, rep)
	return nil
}

// soakWorld has prod requiring stg with a 2h soak and two approvals of
// S0PROD, a fake clock at 10:00 and OPS-5 in master.
func soakWorld(t *testing.T) (*world, *soakNotes, *workflowtest.Clock) {
	sn := &soakNotes{lifeNotes: &lifeNotes{Notifier: &workflowtest.Notifier{}}}
	clock := workflowtest.NewClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	w := newWorld(t, func(c *workflow.Config, d *workflow.Deps) {
		c.Envs[2].RequiresEnv, c.Envs[2].Soak, c.Envs[2].Approvals = "stg", 2*time.Hour, prodApprovers
		d.Notifier, d.Clock = sn, clock
	})
	w.repo.Commit("OPS-5", "OPS-5: prod change", map[string]string{"prod.yml": "x\n"})
	w.repo.MergeBranch("master", "OPS-5", "Merge pull request #5 from OPS-5")
	return w, sn, clock
}

// refused asks for req expecting a refusal: a release that goes on
// instead (to wait for approvals) is stopped after 10s.
func refused(t *testing.T, w *world, req workflow.ReleaseRequest, kind workflow.Kind, words ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := w.svc.Release(ctx, req)
	wantRefused(t, err, kind, words...)
}

func wantRefused(t *testing.T, err error, kind workflow.Kind, words ...string) {
	t.Helper()
	if workflow.KindOf(err) != kind {
		t.Fatalf("got %v (kind %v), want kind %v", err, workflow.KindOf(err), kind)
	}
	for _, w := range words {
		if !strings.Contains(workflow.UserMessage(err), w) {
			t.Errorf("message %q lacks %q", workflow.UserMessage(err), w)
		}
	}
}

// TestSoakGate: prod takes master only once its tickets have lived in stg,
// deployed and verified, for the soak; a failed stg deploy starts the
// clock again, and the approval preview shows each ticket's stg time.
func TestSoakGate(t *testing.T) {
	w, sn, clock := soakWorld(t)
	ctx := t.Context()
	master := w.repo.Head("master")
	w.mustRelease(t, "OPS-5", "stg", cy) // 10:00
	clock.Advance(30 * time.Minute)

	prod := workflow.ReleaseRequest{Ticket: "OPS-5", Env: "prod", User: anaP}
	refused(t, w, prod, workflow.Forbidden, "OPS-5: 30m in stg (since Nov 26 10:00 UTC)", "Try again after Nov 26 12:00 UTC", "--override-soak")
	if len(sn.requested) != 0 {
		t.Fatalf("a refused release asked for approval: %v", sn.requested)
	}

	// stg's next deploy fails its verification: the clock stops.
	clock.Advance(2 * time.Hour)
	w.repo.Commit("OPS-6", "OPS-6: other", map[string]string{"six.yml": "x\n"})
	w.deployer.FailWith(workflow.DeployFailed, nil)
	if _, err := w.release(t, "OPS-6", "stg", cy); err == nil {
		t.Fatal("a failed stg deploy released")
	}
	w.deployer.FailWith("", nil)
	refused(t, w, prod, workflow.Forbidden, "OPS-5: not in stg (its last deploy, Nov 26 12:30 UTC, failed)", "Release them to stg first")

	// The next good deploy of stg starts it again.
	clock.Advance(10 * time.Minute)
	w.repo.Commit("OPS-7", "OPS-7: fix", map[string]string{"seven.yml": "x\n"})
	w.mustRelease(t, "OPS-7", "stg", cy) // 12:40
	clock.Advance(time.Hour)
	refused(t, w, prod, workflow.Forbidden, "OPS-5: 1h in stg (since Nov 26 12:40 UTC)", "Try again after Nov 26 14:40 UTC")
	for _, d := range w.deployer.Deploys() {
		if d.Env == "prod" {
			t.Fatalf("a refused release deployed prod: %v", w.deployer.Deploys())
		}
	}

	clock.Advance(time.Hour)
	done := goRelease(t, w, "OPS-5", "prod", anaP)
	a, p := sn.request(t, 0)
	if p.Soak == nil || len(p.Soak.Tickets) != 1 || p.Soak.Tickets[0].Ticket != "OPS-5" || p.Soak.Tickets[0].For(p.Soak.At) != 2*time.Hour || p.Soak.Override != "" {
		t.Fatalf("preview's soak %+v: want OPS-5 2h in stg, no override", p.Soak)
	}
	for _, u := range []workflow.User{benP, cyP} {
		if _, err := w.svc.Approve(ctx, a.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("soaked release: %v", err)
	}
	if last, ok, _ := w.store.LastDeploy(ctx, "prod"); !ok || last.Result.SHA != master {
		t.Errorf("prod's last deploy %+v, want %s", last, master)
	}
}

// TestSoakLostWhileApproving: stg's deploy fails while the approvers look;
// the approved request is void rather than deployed.
func TestSoakLostWhileApproving(t *testing.T) {
	w, sn, clock := soakWorld(t)
	w.mustRelease(t, "OPS-5", "stg", cy)
	clock.Advance(3 * time.Hour)
	done := goRelease(t, w, "OPS-5", "prod", anaP)
	a, _ := sn.request(t, 0)
	w.repo.Commit("OPS-6", "OPS-6: other", map[string]string{"six.yml": "x\n"})
	w.deployer.FailWith(workflow.DeployFailed, nil)
	if _, err := w.release(t, "OPS-6", "stg", cy); err == nil {
		t.Fatal("a failed stg deploy released")
	}
	for _, u := range []workflow.User{benP, cyP} {
		if _, err := w.svc.Approve(t.Context(), a.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	err := wait(t, done)
	wantRefused(t, err, workflow.Busy, "is void", "the soak of 2h in stg no longer holds: OPS-5: not in stg (its last deploy")
	for _, d := range w.deployer.Deploys() {
		if d.Env == "prod" {
			t.Fatalf("prod deployed after the soak was lost: %v", w.deployer.Deploys())
		}
	}
}

// TestSoakOverride: an approver may release before the soak with a
// reason; the journal, the prod history, the thread and the approvers'
// preview say so. Anyone else is refused before anything is recorded.
func TestSoakOverride(t *testing.T) {
	w, sn, clock := soakWorld(t)
	ctx := t.Context()
	w.mustRelease(t, "OPS-5", "stg", cy)
	clock.Advance(5 * time.Minute)

	req := workflow.ReleaseRequest{Ticket: "OPS-5", Env: "prod", User: ana, OverrideSoak: "payments are down"}
	refused(t, w, req, workflow.Forbidden, "only prod's approvers may override its soak")
	req.User, req.OverrideSoak = anaP, "  "
	refused(t, w, req, workflow.Invalid, "needs a reason")
	refused(t, w, workflow.ReleaseRequest{Ticket: "OPS-5", Env: "stg", User: cyP, OverrideSoak: "x"}, workflow.Invalid, "stg has no soak to override")
	if evs, _ := w.store.Events(ctx, "prod", 0); len(evs) != 0 {
		t.Fatalf("refused overrides left history: %+v", evs)
	}

	req.OverrideSoak = "payments are down"
	done := make(chan error, 1)
	var rec workflow.Release
	go func() {
		var err error
		rec, err = w.svc.Release(ctx, req)
		done <- err
	}()
	a, p := sn.request(t, 0)
	if p.Soak == nil || !strings.Contains(p.Soak.Override, `overridden by U1: "payments are down"`) || !strings.Contains(p.Soak.Override, "OPS-5: 5m in stg") {
		t.Fatalf("preview's soak %+v: want the override with OPS-5's 5m", p.Soak)
	}
	// The override does not stand for the approvals.
	if _, err := w.svc.Approve(ctx, a.ID, anaP); workflow.KindOf(err) != workflow.Forbidden {
		t.Errorf("the overriding requester approved their own release: %v", err)
	}
	for _, u := range []workflow.User{benP, cyP} {
		if _, err := w.svc.Approve(ctx, a.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("overridden release: %v", err)
	}
	var steps []string
	for _, st := range rec.Steps {
		if st.Name == workflow.StepSoakOverride || st.Name == workflow.StepSoak {
			steps = append(steps, st.Name+": "+st.Detail)
		}
	}
	if len(steps) != 2 || steps[0] != "soak override: payments are down" || !strings.HasPrefix(steps[1], `soak: overridden by U1: "payments are down"`) {
		t.Errorf("journal's soak steps %q", steps)
	}
	evs, err := w.store.Events(ctx, "prod", 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Action == workflow.ActionSoakOverridden {
			n++
			if e.Actor != "U1" || !strings.Contains(e.Detail, "payments are down") {
				t.Errorf("override event %+v", e)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d %s events in prod's history, want 1: %+v", n, workflow.ActionSoakOverridden, evs)
	}
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if len(sn.overridden) != 1 || len(sn.overridden[0].Short()) != 1 {
		t.Errorf("told the thread %+v, want one override with OPS-5 short", sn.overridden)
	}
}

// TestSoakTicketWithoutBranch: a ticket whose branch was deleted once its
// pull request merged is measured by its own commits in master (not the
// pull request's merge, which stg never had).
func TestSoakTicketWithoutBranch(t *testing.T) {
	w, sn, clock := soakWorld(t)
	w.repo.Commit("OPS-4", "OPS-4: another change", map[string]string{"four.yml": "x\n"})
	w.mustRelease(t, "OPS-4", "stg", cy)
	w.mustRelease(t, "OPS-5", "stg", cy)
	clock.Advance(time.Hour)
	w.repo.MergeBranch("master", "OPS-4", "Merge pull request #4 from OPS-4")
	w.repo.DeleteBranch("OPS-4")
	clock.Advance(time.Hour)
	done := goRelease(t, w, "OPS-5", "prod", anaP)
	a, p := sn.request(t, 0)
	if p.Soak == nil || len(p.Soak.Tickets) != 2 || len(p.Soak.Short()) != 0 {
		t.Errorf("preview's soak %+v: want OPS-5 and OPS-4 2h in stg", p.Soak)
	}
	for _, u := range []workflow.User{benP, cyP} {
		if _, err := w.svc.Approve(t.Context(), a.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("soaked release with a ticket without a branch: %v", err)
	}
}

// TestSoakWalkStopsAtTheSoak: with stg deployed every 10 minutes for 5h,
// each of another commit holding OPS-5, the gate looks at the deploys
// within the soak only: OPS-5 shows "at
// least" 2h, and the git checks stay those of about 13 deploys, not 31.
func TestSoakWalkStopsAtTheSoak(t *testing.T) {
	w, sn, clock := soakWorld(t)
	ctx := t.Context()
	w.mustRelease(t, "OPS-5", "stg", cy)
	for i := range 30 {
		clock.Advance(10 * time.Minute)
		tip := w.repo.Commit("release/stg", "hotfix", map[string]string{"n.txt": fmt.Sprint(i)})
		if _, err := w.svc.DeployCommit(ctx, workflow.DeployRequest{Env: "stg", Ref: "release/stg", SHA: tip, User: cy}, nil); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		n := 0
		for _, c := range w.repo.Calls() {
			if c == "IsAncestor" {
				n++
			}
		}
		return n
	}
	before := count()
	done := goRelease(t, w, "OPS-5", "prod", anaP)
	a, p := sn.request(t, 0)
	calls := count() - before
	if p.Soak == nil || len(p.Soak.Tickets) != 1 || !p.Soak.Tickets[0].AtLeast || p.Soak.Tickets[0].For(p.Soak.At) != 2*time.Hour {
		t.Errorf("preview's soak %+v: want OPS-5 at least 2h (the walk stopped at the soak)", p.Soak)
	}
	// The gate and the preview each walk 13 deploys; the release's other
	// checks make a few more calls. The whole trail would be 2×31.
	if calls > 2*13+4 {
		t.Errorf("%d IsAncestor calls for the gate and the preview: want the walk bounded by the soak", calls)
	}
	t.Logf("IsAncestor calls for the gate and the preview over 31 stg deploys: %d", calls)
	if _, err := w.svc.Reject(ctx, a.ID, benP); err != nil {
		t.Fatal(err)
	}
	wait(t, done)
}

// TestSoakOverrideWithoutApprovers: a prod without approvers has nobody
// who may override its soak.
func TestSoakOverrideWithoutApprovers(t *testing.T) {
	w := newWorld(t, func(c *workflow.Config, _ *workflow.Deps) { c.Envs[2].RequiresEnv, c.Envs[2].Soak = "stg", time.Hour })
	refused(t, w, workflow.ReleaseRequest{Ticket: "OPS-5", Env: "prod", User: anaP, OverrideSoak: "outage"}, workflow.Forbidden, "prod has no approvers, so nobody may override its soak")
}

// TestSoakConfig: a soak only on a production env that requires another.
func TestSoakConfig(t *testing.T) {
	for _, tc := range []struct {
		env  workflow.Env
		want string
	}{
		{workflow.Env{Name: "stg", Soak: time.Hour, RequiresEnv: "dev"}, "not a production env"},
		{workflow.Env{Name: "prod", Production: true, Soak: time.Hour}, "no requires_env"},
		{workflow.Env{Name: "prod", Production: true, Soak: -time.Hour, RequiresEnv: "dev"}, "negative"},
	} {
		_, err := workflow.NewService(nil, workflow.Config{Envs: []workflow.Env{{Name: "dev"}, tc.env}}, workflow.Deps{})
		if workflow.KindOf(err) != workflow.Invalid || !strings.Contains(err.Error(), "environments[1].soak") || !strings.Contains(workflow.UserMessage(err), tc.want) {
			t.Errorf("%+v: %v, want Invalid naming environments[1].soak and %q", tc.env, err, tc.want)
		}
	}
}
