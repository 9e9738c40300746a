package workflow_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

// A failed release rolled back: dev's branch gets a new commit (history
// kept) with its tree from before the release, the ticket leaves, the env
// is redeployed at that commit, and the release's journal says so. The
// ticket released again later comes back whole, with the commit the
// rollback undid.
func TestRollbackUndoesAFailedRelease(t *testing.T) {
	w := newWorld(t, func(c *workflow.Config, d *workflow.Deps) {
		c.Envs[0].AllowedFor = map[string][]string{workflow.ActRemove: {"S0DEVOPS"}}
	})
	ctx := t.Context()
	w.repo.Commit("OPS-1", "OPS-1 vpc", map[string]string{"vpc.yml": "cidr: 10.1\n"})
	w.mustRelease(t, "OPS-1", "dev", ana)
	before := w.repo.Head("release/dev")
	w.repo.Commit("OPS-2", "OPS-2 queue", map[string]string{"queue.yml": "fifo: true\n"})
	w.deployer.FailWith(workflow.DeployFailed, nil)
	failed, err := w.release(t, "OPS-2", "dev", ben)
	if err == nil || failed.State != workflow.StateFailed || failed.PushedSHA == "" {
		t.Fatalf("release of OPS-2 = %+v, %v; want failed after its push", failed, err)
	}
	w.deployer.FailWith("", nil)

	if _, err := w.svc.Rollback(ctx, workflow.RollbackRequest{Release: failed.ID, By: ana}); workflow.KindOf(err) != workflow.Forbidden {
		t.Errorf("rollback by ana (not its requester, may not remove): %v, want forbidden", err)
	}
	c, err := w.svc.Rollback(ctx, workflow.RollbackRequest{Release: failed.ID, By: ben})
	if err != nil {
		t.Fatalf("rollback by its requester: %v", err)
	}
	head := w.repo.Head("release/dev")
	if c.SHA != head || c.To != before || c.Undone != failed.ID {
		t.Errorf("change %+v; want head %s back to %s", c, head, before)
	}
	if msg := w.repo.Message(head); !strings.Contains(msg, "Rolled-Back-To: "+before) || !strings.Contains(msg, "Rolls-Back: "+failed.ID) {
		t.Errorf("rollback message %q", msg)
	}
	if diff := cmp.Diff(w.repo.Files("release/dev"), w.repo.Files(before)); diff != "" {
		t.Errorf("release/dev's files after the rollback (-got +want before):\n%s", diff)
	}
	if got := w.occupants(t, "dev"); !slices.Equal(got, []workflow.TicketKey{"OPS-1"}) {
		t.Errorf("occupants after the rollback = %v, want OPS-1 only", got)
	}
	if len(c.Left) != 1 || c.Left[0].Ticket != "OPS-2" || c.Left[0].By != ben.ID {
		t.Errorf("left = %+v, want OPS-2 of ben", c.Left)
	}
	if got := w.deployer.Deploys(); got[len(got)-1] != (workflowtest.Deploy{Env: "dev", SHA: head}) {
		t.Errorf("last deploy %v, want the rollback %s", got[len(got)-1], head)
	}
	rec, err := w.store.GetRelease(ctx, failed.ID)
	if err != nil || !slices.Contains(stepNames(rec), workflow.StepRolledBack) {
		t.Errorf("the release's journal %v, %v; want a %q step", stepNames(rec), err, workflow.StepRolledBack)
	}
	w.checkIdle(t, "dev")
	if evs, _ := w.svc.History(ctx, "dev", 3); len(evs) == 0 || !slices.ContainsFunc(evs, func(e workflow.Event) bool { return e.Action == workflow.ActionRolledBack && e.Actor == ben.ID }) {
		t.Errorf("history %+v; want the rollback by ben", evs)
	}

	if _, err := w.svc.Rollback(ctx, workflow.RollbackRequest{Release: failed.ID, By: ben}); workflow.KindOf(err) != workflow.Invalid || !strings.Contains(err.Error(), "rolled back already") {
		t.Errorf("second rollback: %v, want 'rolled back already'", err)
	}

	// Fixed and released again: the first commit comes back too.
	w.repo.Commit("OPS-2", "OPS-2 fix", map[string]string{"dlq.yml": "on\n"})
	again := w.mustRelease(t, "OPS-2", "dev", ben)
	files := w.repo.Files("release/dev")
	if files["queue.yml"] == "" || files["dlq.yml"] == "" || files["vpc.yml"] == "" {
		t.Errorf("release/dev after OPS-2's new release has %v; want queue.yml (undone before), dlq.yml and vpc.yml", slices.Sorted(maps.Keys(files)))
	}
	w.repo.Commit("OPS-4", "OPS-4 dns", map[string]string{"dns.yml": "ttl: 60\n"})
	four := w.mustRelease(t, "OPS-4", "dev", ana)
	if _, err := w.svc.Rollback(ctx, workflow.RollbackRequest{Release: again.ID, By: ben}); workflow.KindOf(err) != workflow.Busy || !strings.Contains(err.Error(), "Release OPS-4 to dev") {
		t.Errorf("rollback of OPS-2's release after OPS-4's: %v, want busy, naming OPS-4's release", err)
	}
	if _, err := w.svc.Rollback(ctx, workflow.RollbackRequest{Ticket: "OPS-9", Env: "dev", By: cy}); workflow.KindOf(err) != workflow.NotFound {
		t.Errorf("rollback of a ticket never released to dev: %v, want not found", err)
	}
	c, err = w.svc.Rollback(ctx, workflow.RollbackRequest{Ticket: "ops-4", Env: "dev", By: cy})
	if err != nil || c.Undone != four.ID {
		t.Errorf("rollback of OPS-4's last release to dev, by cy (may remove from dev): %+v, %v; want release %s undone", c, err, four.ID)
	}
	if got := w.occupants(t, "dev"); !slices.Equal(got, []workflow.TicketKey{"OPS-1", "OPS-2"}) {
		t.Errorf("occupants after rolling back OPS-4 = %v, want OPS-1 and OPS-2", got)
	}
}

// A release that pushed nothing, and a production env, have nothing to
// roll back.
func TestRollbackRefusals(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	w.repo.Commit("OPS-1", "OPS-1 vpc", map[string]string{"vpc.yml": "cidr: 10.1\n"})
	w.repo.Commit("OPS-3", "OPS-3 vpc", map[string]string{"vpc.yml": "cidr: 10.3\n"})
	w.mustRelease(t, "OPS-1", "dev", ana)
	conflict, _ := w.release(t, "OPS-3", "dev", ana)
	if conflict.State != workflow.StateConflict {
		t.Fatalf("OPS-3: %s, want a conflict", conflict.State)
	}
	pushes := len(w.repo.Pushes())
	if _, err := w.svc.Rollback(ctx, workflow.RollbackRequest{Release: conflict.ID, By: ana}); workflow.KindOf(err) != workflow.Invalid || !strings.Contains(err.Error(), "pushed nothing") {
		t.Errorf("rollback of a conflict: %v, want invalid, pushed nothing", err)
	}
	if _, err := w.svc.Rollback(ctx, workflow.RollbackRequest{Release: "r404", By: ana}); workflow.KindOf(err) != workflow.NotFound {
		t.Errorf("rollback of an unknown release: %v, want not found", err)
	}
	w.repo.MergeBranch("master", "OPS-1", "Merge OPS-1")
	prod := w.mustRelease(t, "OPS-1", "prod", ana)
	if _, err := w.svc.Rollback(ctx, workflow.RollbackRequest{Release: prod.ID, By: ana}); workflow.KindOf(err) != workflow.NotFound || !strings.Contains(err.Error(), "no earlier successful deploy of prod") {
		t.Errorf("rollback of prod's first release: %v, want not found: nothing to go back to", err)
	}
	if len(w.repo.Pushes()) != pushes {
		t.Errorf("refused rollbacks pushed %d times", len(w.repo.Pushes())-pushes)
	}
}

// A production rollback deploys prod's previous deploy again in place of
// a failed release, after the same approvals as a release; the approvers
// see what leaves prod. Master is not changed; a second rollback of the
// same release is refused.
func TestProdRollbackNeedsApproval(t *testing.T) {
	w, ln, _ := approvalWorld(t)
	ctx := t.Context()
	approve := func(i int) workflow.ApprovalRequest {
		t.Helper()
		a, _ := ln.request(t, i)
		for _, u := range []workflow.User{benP, cyP} {
			if _, err := w.svc.Approve(ctx, a.ID, u); err != nil {
				t.Fatalf("approve request %d by %s: %v", i, u.Name, err)
			}
		}
		return a
	}
	done := goRelease(t, w, "OPS-5", "prod", anaP)
	approve(0)
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	good := w.repo.Head("master")
	w.repo.Commit("OPS-6", "OPS-6: prod change", map[string]string{"six.yml": "6\n"})
	bad := w.repo.MergeBranch("master", "OPS-6", "Merge pull request #6 from OPS-6")
	w.deployer.FailWith(workflow.DeployFailed, nil)
	done = goRelease(t, w, "OPS-6", "prod", anaP)
	approve(1)
	if err := wait(t, done); err == nil {
		t.Fatal("OPS-6's prod release succeeded; want its deploy failed")
	}
	w.deployer.FailWith("", nil)
	failed := lastRelease(t, w, "OPS-6")

	worker, err := w.svc.NewWorker(workflow.WorkerConfig{ID: "w1", DrainTimeout: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { defer close(stopped); worker.Run(wctx) }()
	defer func() { stop(); <-stopped }()

	c, err := w.svc.Rollback(ctx, workflow.RollbackRequest{Release: failed.ID, By: anaP})
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != workflow.ActionRollbackRequested || c.To != good || c.SHA != bad || c.Release == "" {
		t.Errorf("change %+v; want a rollback asked from %s to %s", c, bad[:7], good[:7])
	}
	a, p := ln.request(t, 2)
	if a.SHA != good || p.RollbackOf != failed.ID || !slices.Contains(p.LeavingTickets, "OPS-6") || p.Base != bad {
		t.Errorf("request %+v, preview %+v: want bound to %s, OPS-6 leaving", a, p, good[:7])
	}
	if n := len(w.deployer.Deploys()); n != 2 { // OPS-5's, and OPS-6's that failed
		t.Errorf("deploys before the approval: %v", w.deployer.Deploys())
	}
	approve(2)
	rb := w.waitFinal(t, c.Release, 10*time.Second)
	if rb.State != workflow.StateReleased {
		t.Fatalf("the rollback ended %s: %s", rb.State, rb.Error)
	}
	deploys := w.deployer.Deploys()
	if got := deploys[len(deploys)-1]; got != (workflowtest.Deploy{Env: "prod", SHA: good}) {
		t.Errorf("last deploy %v, want prod at %s again", got, good[:7])
	}
	if w.repo.Head("master") != bad {
		t.Errorf("master moved: a production rollback changes no branch")
	}
	rec, _ := w.store.GetRelease(ctx, failed.ID)
	if !slices.Contains(stepNames(rec), workflow.StepRolledBack) {
		t.Errorf("the failed release's journal %v lacks the rollback", stepNames(rec))
	}
	if _, err := w.svc.Rollback(ctx, workflow.RollbackRequest{Release: failed.ID, By: anaP}); workflow.KindOf(err) != workflow.Invalid || !strings.Contains(err.Error(), "only the last deploy can be rolled back") {
		t.Errorf("second rollback: %v", err)
	}
	if _, err := w.svc.Rollback(ctx, workflow.RollbackRequest{Release: rb.ID, By: anaP}); workflow.KindOf(err) != workflow.Invalid || !strings.Contains(err.Error(), "is itself a rollback") {
		t.Errorf("rollback of the rollback: %v", err)
	}
}

// lastRelease is the newest release record of key, from the trail.
func lastRelease(t *testing.T, w *world, key workflow.TicketKey) workflow.Release {
	t.Helper()
	evs, err := w.store.Events(t.Context(), "prod", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Ticket == key && e.ReleaseID != "" {
			r, err := w.store.GetRelease(t.Context(), e.ReleaseID)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	t.Fatalf("no release of %s in the trail", key)
	return workflow.Release{}
}

// The release that created the env branch rolls back to the production
// branch's commit it started from: the branch stays (history kept), with
// master's tree, and nobody is in the env.
func TestRollbackOfTheBranchCreatingRelease(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	master := w.repo.Head("master")
	w.repo.Commit("OPS-1", "OPS-1 vpc", map[string]string{"vpc.yml": "cidr: 10.1\n"})
	w.deployer.FailWith(workflow.DeployFailed, nil)
	failed, _ := w.release(t, "OPS-1", "dev", ana)
	w.deployer.FailWith("", nil)
	if failed.PushedSHA == "" || !slices.Contains(stepNames(failed), workflow.StepCreated) {
		t.Fatalf("release %+v; want release/dev created and pushed", failed)
	}
	c, err := w.svc.Rollback(ctx, workflow.RollbackRequest{Release: failed.ID, By: ana})
	if err != nil {
		t.Fatal(err)
	}
	if c.To != master {
		t.Errorf("rolled back to %s, want master's %s", c.To, master)
	}
	if diff := cmp.Diff(w.repo.Files("release/dev"), w.repo.Files("master")); diff != "" {
		t.Errorf("release/dev (-got +want master):\n%s", diff)
	}
	if got := w.occupants(t, "dev"); len(got) != 0 {
		t.Errorf("occupants %v, want none", got)
	}
}

// A ticket rolled back out of the env prod requires has not gone through
// it any more, whatever its earlier releases there: prod refuses it.
func TestRolledBackTicketIsNotThroughTheRequiredEnv(t *testing.T) {
	w := newWorld(t, func(c *workflow.Config, d *workflow.Deps) { c.Envs[2].RequiresEnv = "stg" })
	ctx := t.Context()
	w.repo.Commit("OPS-1", "OPS-1 vpc", map[string]string{"vpc.yml": "cidr: 10.1\n"})
	w.mustRelease(t, "OPS-1", "stg", cy)
	if _, err := w.svc.Reset(ctx, "stg", cy); err != nil {
		t.Fatal(err)
	}
	w.deployer.FailWith(workflow.DeployFailed, nil)
	failed, _ := w.release(t, "OPS-1", "stg", cy)
	w.deployer.FailWith("", nil)
	if _, err := w.svc.Rollback(ctx, workflow.RollbackRequest{Release: failed.ID, By: cy}); err != nil {
		t.Fatal(err)
	}
	w.repo.MergeBranch("master", "OPS-1", "Merge OPS-1")
	_, err := w.release(t, "OPS-1", "prod", cy)
	if workflow.KindOf(err) != workflow.Forbidden || !strings.Contains(workflow.UserMessage(err), "OPS-1 was rolled back in stg") {
		t.Errorf("prod release of a ticket rolled back in stg: %v; want refused, naming the rollback", err)
	}
}

// A rollback whose redeploy cannot run (credentials, the cloud down) still
// rolled the branch back: the error says so and what is left to do, and
// the channel is told who left.
func TestRollbackWhoseRedeployCannotRun(t *testing.T) {
	ln := &lifeNotes{Notifier: &workflowtest.Notifier{}}
	w := newWorld(t, func(c *workflow.Config, d *workflow.Deps) { d.Notifier = ln })
	ctx := t.Context()
	w.repo.Commit("OPS-1", "OPS-1 vpc", map[string]string{"vpc.yml": "cidr: 10.1\n"})
	w.deployer.FailWith(workflow.DeployFailed, nil)
	failed, _ := w.release(t, "OPS-1", "dev", ana)
	w.deployer.FailWith("", workflow.Errorf("aws", workflow.Unavailable, "the env's role cannot be assumed"))
	_, err := w.svc.Rollback(ctx, workflow.RollbackRequest{Release: failed.ID, By: ana})
	if err == nil || !strings.Contains(workflow.UserMessage(err), "release/dev is rolled back to") || !strings.Contains(workflow.UserMessage(err), "OPS-1 left it, but dev could not be redeployed: the env's role cannot be assumed") {
		t.Fatalf("rollback with the deploy down: %v", err)
	}
	if diff := cmp.Diff(w.repo.Files("release/dev"), w.repo.Files("master")); diff != "" {
		t.Errorf("release/dev (-got +want master):\n%s", diff)
	}
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if len(ln.changes) != 1 || ln.changes[0].Action != workflow.ActionRolledBack || len(ln.changes[0].Left) != 1 {
		t.Errorf("the channel heard %+v; want the rollback with OPS-1 left", ln.changes)
	}
}
