package workflow_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

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

	if _, err := w.svc.Rollback(ctx, failed.ID, ana); workflow.KindOf(err) != workflow.Forbidden {
		t.Errorf("rollback by ana (not its requester, may not remove): %v, want forbidden", err)
	}
	c, err := w.svc.Rollback(ctx, failed.ID, ben)
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

	if _, err := w.svc.Rollback(ctx, failed.ID, ben); workflow.KindOf(err) != workflow.Invalid || !strings.Contains(err.Error(), "rolled back already") {
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
	if _, err := w.svc.Rollback(ctx, again.ID, ben); workflow.KindOf(err) != workflow.Busy || !strings.Contains(err.Error(), "Release OPS-4 to dev") {
		t.Errorf("rollback of OPS-2's release after OPS-4's: %v, want busy, naming OPS-4's release", err)
	}
	if _, err := w.svc.Rollback(ctx, four.ID, cy); err != nil {
		t.Errorf("rollback by cy (may remove from dev): %v", err)
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
	if _, err := w.svc.Rollback(ctx, conflict.ID, ana); workflow.KindOf(err) != workflow.Invalid || !strings.Contains(err.Error(), "pushed nothing") {
		t.Errorf("rollback of a conflict: %v, want invalid, pushed nothing", err)
	}
	if _, err := w.svc.Rollback(ctx, "r404", ana); workflow.KindOf(err) != workflow.NotFound {
		t.Errorf("rollback of an unknown release: %v, want not found", err)
	}
	w.repo.MergeBranch("master", "OPS-1", "Merge OPS-1")
	prod := w.mustRelease(t, "OPS-1", "prod", ana)
	if _, err := w.svc.Rollback(ctx, prod.ID, ana); workflow.KindOf(err) != workflow.Invalid {
		t.Errorf("rollback of a prod release: %v, want invalid", err)
	}
	if len(w.repo.Pushes()) != pushes {
		t.Errorf("refused rollbacks pushed %d times", len(w.repo.Pushes())-pushes)
	}
}
