package workflow_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
	"github.com/google/go-cmp/cmp"
)

// lifeNotes records the approval and env notices on top of the fake.
type lifeNotes struct {
	*workflowtest.Notifier
	mu        sync.Mutex
	requested []workflow.ApprovalRequest
	previews  []workflow.Preview
	turns     []workflow.Release
	changes   []workflow.EnvChange
}

func (n *lifeNotes) ApprovalRequested(_ context.Context, a workflow.ApprovalRequest, p workflow.Preview) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.requested, n.previews = append(n.requested, a), append(n.previews, p)
	return nil
}
func (n *lifeNotes) ApprovalChanged(context.Context, workflow.ApprovalRequest) error { return nil }
func (n *lifeNotes) YourTurn(_ context.Context, r workflow.Release) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.turns = append(n.turns, r)
	return nil
}
func (n *lifeNotes) EnvChanged(_ context.Context, c workflow.EnvChange) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.changes = append(n.changes, c)
	return nil
}

// request waits for the i-th approval request.
func (n *lifeNotes) request(t *testing.T, i int) (workflow.ApprovalRequest, workflow.Preview) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n.mu.Lock()
		if len(n.requested) > i {
			defer n.mu.Unlock()
			return n.requested[i], n.previews[i]
		}
		n.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("no approval request")
		}
		time.Sleep(time.Millisecond)
	}
}

var prodApprovers = workflow.ApprovalPolicy{Required: 2, Approvers: []string{"S0PROD"}, ExpireAfter: time.Hour}

// approvalWorld has prod needing two approvals of group S0PROD (ben, cy)
// and a fake clock.
func approvalWorld(t *testing.T) (*world, *lifeNotes, *workflowtest.Clock) {
	ln := &lifeNotes{Notifier: &workflowtest.Notifier{}}
	clock := workflowtest.NewClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	w := newWorld(t, func(c *workflow.Config, d *workflow.Deps) {
		c.Envs[2].Approvals = prodApprovers
		d.Notifier, d.Clock = ln, clock
	})
	w.repo.Commit("OPS-5", "OPS-5: prod change", map[string]string{"prod.yml": "x\n"})
	w.repo.MergeBranch("master", "OPS-5", "Merge pull request #5 from OPS-5")
	return w, ln, clock
}

var (
	benP = workflow.User{ID: "U2", Name: "ben", Groups: []string{"S0PROD"}}
	cyP  = workflow.User{ID: "U3", Name: "cy", Groups: []string{"S0PROD", "S0DEVOPS"}}
	anaP = workflow.User{ID: "U1", Name: "ana", Groups: []string{"S0PROD"}}
)

func goRelease(t *testing.T, w *world, key, env string, u workflow.User) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := w.svc.Release(t.Context(), workflow.ReleaseRequest{Ticket: key, Env: env, User: u})
		done <- err
	}()
	return done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the release did not end")
		return nil
	}
}

func TestApprovalVotes(t *testing.T) {
	w, ln, _ := approvalWorld(t)
	master := w.repo.Head("master")
	done := goRelease(t, w, "OPS-5", "prod", anaP)
	a, p := ln.request(t, 0)
	if a.SHA != master || p.SHA != master || a.Digest != p.Digest || !strings.Contains(joinKeys(p.Tickets), "OPS-5") {
		t.Errorf("request %+v, preview %+v: want bound to master %s with OPS-5", a, p, master)
	}
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		id   string
		by   workflow.User
		kind workflow.Kind
	}{
		{"self", a.ID, anaP, workflow.Forbidden},
		{"not an approver", a.ID, ana, workflow.Forbidden},
		{"forged id", "r9-0000000-00000000", benP, workflow.NotFound},
		{"garbage", "<!channel>", benP, workflow.Invalid},
		{"no user", a.ID, workflow.User{}, workflow.Invalid},
	} {
		if _, err := w.svc.Approve(ctx, tc.id, tc.by); workflow.KindOf(err) != tc.kind {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.kind)
		}
	}
	if _, err := w.svc.Approve(ctx, a.ID, benP); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Approve(ctx, a.ID, benP); workflow.KindOf(err) != workflow.Invalid || !strings.Contains(workflow.UserMessage(err), "voted on this request already") {
		t.Errorf("second vote: %v", err)
	}
	if _, err := w.svc.Approve(ctx, a.ID, cyP); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("approved release: %v", err)
	}
	if diff := cmp.Diff(w.deployer.Deploys(), []workflowtest.Deploy{{Env: "prod", SHA: master}}); diff != "" {
		t.Errorf("deploys (-got +want):\n%s", diff)
	}
	got, _ := w.store.GetApproval(ctx, a.ID)
	if got.State != workflow.ApprovalApproved || got.Approvals() != 2 {
		t.Errorf("request after: %+v", got)
	}
}

func TestApprovalRejected(t *testing.T) {
	w, ln, _ := approvalWorld(t)
	done := goRelease(t, w, "OPS-5", "prod", anaP)
	a, _ := ln.request(t, 0)
	if _, err := w.svc.Reject(t.Context(), a.ID, cyP); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, done); workflow.KindOf(err) != workflow.Forbidden || !strings.Contains(workflow.UserMessage(err), "rejected by U3") {
		t.Errorf("rejected release: %v", err)
	}
	if len(w.deployer.Deploys()) != 0 {
		t.Errorf("deployed a rejected release: %v", w.deployer.Deploys())
	}
	w.checkIdle(t, "prod")
}

func TestApprovalExpires(t *testing.T) {
	w, ln, clock := approvalWorld(t)
	done := goRelease(t, w, "OPS-5", "prod", anaP)
	a, _ := ln.request(t, 0)
	if _, err := w.svc.Approve(t.Context(), a.ID, benP); err != nil {
		t.Fatal(err)
	}
	clock.Advance(61 * time.Minute)
	if err := wait(t, done); workflow.KindOf(err) != workflow.Busy || !strings.Contains(workflow.UserMessage(err), "expired") {
		t.Errorf("expired release: %v", err)
	}
	if _, err := w.svc.Approve(t.Context(), a.ID, cyP); workflow.KindOf(err) != workflow.Invalid || !strings.Contains(workflow.UserMessage(err), "expired") {
		t.Errorf("vote on an expired request: %v", err)
	}
	if len(w.deployer.Deploys()) != 0 {
		t.Errorf("deployed without approvals: %v", w.deployer.Deploys())
	}
}

func TestApprovalVoidedByMasterMove(t *testing.T) {
	w, ln, _ := approvalWorld(t)
	done := goRelease(t, w, "OPS-5", "prod", anaP)
	a, _ := ln.request(t, 0)
	if _, err := w.svc.Approve(t.Context(), a.ID, benP); err != nil {
		t.Fatal(err)
	}
	w.repo.Commit("master", "hotfix", map[string]string{"hot.yml": "x\n"})
	if err := wait(t, done); workflow.KindOf(err) != workflow.Busy || !strings.Contains(workflow.UserMessage(err), "master moved from") {
		t.Errorf("release after master moved: %v", err)
	}
	if _, err := w.svc.Approve(t.Context(), a.ID, cyP); workflow.KindOf(err) != workflow.Invalid {
		t.Errorf("vote on a void request: %v", err)
	}
	if len(w.deployer.Deploys()) != 0 {
		t.Errorf("deployed a void request: %v", w.deployer.Deploys())
	}
}

func TestRequiresEnv(t *testing.T) {
	w := newWorld(t, func(c *workflow.Config, _ *workflow.Deps) { c.Envs[2].RequiresEnv = "stg" })
	w.repo.Commit("OPS-5", "OPS-5", map[string]string{"prod.yml": "x\n"})
	w.repo.MergeBranch("master", "OPS-5", "Merge OPS-5")
	if _, err := w.release(t, "OPS-5", "prod", ana); workflow.KindOf(err) != workflow.Forbidden || !strings.Contains(workflow.UserMessage(err), "has not been released to stg") {
		t.Fatalf("prod before stg: %v", err)
	}
	w.mustRelease(t, "OPS-5", "stg", cy)
	w.mustRelease(t, "OPS-5", "prod", ana)
}

func TestResetAndRemove(t *testing.T) {
	ln := &lifeNotes{Notifier: &workflowtest.Notifier{}}
	w := newWorld(t, func(c *workflow.Config, d *workflow.Deps) {
		c.Envs[0].AllowedFor = map[string][]string{workflow.ActReset: {"S0DEVOPS"}}
		d.Notifier = ln
	})
	ctx := t.Context()
	for i, k := range []string{"OPS-1", "OPS-2", "OPS-3"} {
		w.repo.Commit(k, k, map[string]string{"f" + k + ".yml": k + "\n"})
		w.mustRelease(t, k, "dev", []workflow.User{ana, ben, cy}[i])
	}
	if _, err := w.svc.Remove(ctx, "OPS-4", "dev", ana); workflow.KindOf(err) != workflow.NotFound {
		t.Errorf("remove of a ticket not in dev: %v", err)
	}
	c, err := w.svc.Remove(ctx, "OPS-2", "dev", ana)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w.occupants(t, "dev"), []workflow.TicketKey{"OPS-1", "OPS-3"}); diff != "" {
		t.Errorf("occupants after remove (-got +want):\n%s", diff)
	}
	files := w.repo.Files("release/dev")
	if _, ok := files["fOPS-2.yml"]; ok || files["fOPS-1.yml"] == "" || files["fOPS-3.yml"] == "" {
		t.Errorf("release/dev after removing OPS-2: %v", files)
	}
	if c.SHA != w.repo.Head("release/dev") || len(c.Left) != 1 || c.Left[0].Ticket != "OPS-2" {
		t.Errorf("change %+v", c)
	}
	if got := w.deployer.Deploys(); got[len(got)-1] != (workflowtest.Deploy{Env: "dev", SHA: c.SHA}) {
		t.Errorf("last deploy %v, want the rebuilt %s", got[len(got)-1], c.SHA)
	}
	if _, err := w.svc.Reset(ctx, "dev", ana); workflow.KindOf(err) != workflow.Forbidden {
		t.Errorf("reset by ana (not in S0DEVOPS): %v", err)
	}
	for _, env := range []string{"prod", "qa", "DEV"} {
		if _, err := w.svc.Reset(ctx, env, cy); workflow.KindOf(err) != workflow.Invalid {
			t.Errorf("reset %s: %v, want invalid", env, err)
		}
	}
	pushes := len(w.repo.Pushes())
	if _, err := w.svc.Reset(ctx, "dev", cy); err != nil {
		t.Fatal(err)
	}
	if w.repo.Head("release/dev") != w.repo.Head("master") || len(w.occupants(t, "dev")) != 0 || len(w.repo.Pushes()) != pushes+1 {
		t.Errorf("after reset: release/dev %s, master %s, occupants %v", w.repo.Head("release/dev"), w.repo.Head("master"), w.occupants(t, "dev"))
	}
	w.checkIdle(t, "dev")
	evs, _ := w.svc.History(ctx, "dev", 5)
	if evs[1].Action != workflow.ActionReset || evs[1].Actor != cy.ID {
		t.Errorf("history: %+v", evs[:2])
	}
}

func TestHoldQueueCancelAndYourTurn(t *testing.T) {
	ln := &lifeNotes{Notifier: &workflowtest.Notifier{}}
	w := newWorld(t, func(_ *workflow.Config, d *workflow.Deps) { d.Notifier = ln })
	ctx := t.Context()
	long := strings.Repeat("x", 10<<10) + " @channel <!here>"
	h, err := w.svc.Hold(ctx, workflow.HoldRequest{Env: "dev", By: ana, Reason: "testing @Channel " + long})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Reason) > 210 || strings.Contains(strings.ToLower(h.Reason), "@channel") || strings.ContainsAny(h.Reason, "<>") {
		t.Errorf("hold reason not neutralised: %q", h.Reason)
	}
	for _, k := range []string{"OPS-1", "OPS-2"} {
		w.repo.Commit(k, k, map[string]string{k + ".yml": k + "\n"})
	}
	one := goRelease(t, w, "OPS-1", "dev", ana)
	waitQueue := func(n int) []workflow.QueueEntry {
		deadline := time.Now().Add(5 * time.Second)
		for {
			q, _ := w.store.Queue(ctx, "dev")
			if len(q) == n {
				return q
			}
			if time.Now().After(deadline) {
				t.Fatalf("queue %v, want %d entries", q, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitQueue(1)
	two := goRelease(t, w, "OPS-2", "dev", ben)
	if q := waitQueue(2); q[0].Ticket != "OPS-1" || q[1].Ticket != "OPS-2" {
		t.Errorf("queue order %v", q)
	}
	if _, err := w.svc.Cancel(ctx, "OPS-3", "dev", ben); workflow.KindOf(err) != workflow.NotFound {
		t.Errorf("cancel of a ticket not queued: %v", err)
	}
	if _, err := w.svc.Cancel(ctx, "OPS-2", "dev", ben); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, two); workflow.KindOf(err) != workflow.Busy {
		t.Errorf("cancelled release: %v", err)
	}
	if err := w.svc.Unhold(ctx, "dev", ana); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.Unhold(ctx, "dev", ana); workflow.KindOf(err) != workflow.NotFound {
		t.Errorf("second unhold: %v", err)
	}
	if err := wait(t, one); err != nil {
		t.Fatal(err)
	}
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if len(ln.turns) != 1 || ln.turns[0].Ticket != "OPS-1" {
		t.Errorf("your-turn notes: %+v; want OPS-1's", ln.turns)
	}
}

func joinKeys(keys []workflow.TicketKey) string {
	var s []string
	for _, k := range keys {
		s = append(s, string(k))
	}
	return strings.Join(s, ",")
}
