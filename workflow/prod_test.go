package workflow_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
	"github.com/google/go-cmp/cmp"
)

// TestSeveralProductionEnvs: prod-us and prod-eu both deploy master only,
// each behind its own approvals, lease, requires_env and last deploy.
func TestSeveralProductionEnvs(t *testing.T) {
	ln := &lifeNotes{Notifier: &workflowtest.Notifier{}}
	w := newWorld(t, func(c *workflow.Config, d *workflow.Deps) {
		eu := workflow.ApprovalPolicy{Required: 1, Approvers: []string{"U3"}, ExpireAfter: time.Hour}
		c.Envs = append(c.Envs[:2],
			workflow.Env{Name: "prod-us", Production: true, Approvals: workflow.ApprovalPolicy{Required: 1, Approvers: []string{"S0PROD"}, ExpireAfter: time.Hour}},
			workflow.Env{Name: "prod-eu", Production: true, RequiresEnv: "prod-us", Approvals: eu})
		d.Notifier = ln
	})
	ctx := t.Context()
	for _, name := range []string{"prod-us", "prod-eu"} {
		if env, err := w.svc.Env(name); err != nil || env.Branch != "master" {
			t.Fatalf("%s: %+v, %v; want it on master", name, env, err)
		}
	}
	w.repo.Commit("OPS-6", "OPS-6: not merged", map[string]string{"six.yml": "x\n"})
	if _, err := w.release(t, "OPS-6", "prod-eu", anaP); workflow.KindOf(err) != workflow.Forbidden || !strings.Contains(workflow.UserMessage(err), "not in master yet") {
		t.Errorf("unmerged ticket to prod-eu: %v, want Forbidden (not in master)", err)
	}
	w.repo.Commit("OPS-5", "OPS-5: prod change", map[string]string{"prod.yml": "x\n"})
	w.repo.MergeBranch("master", "OPS-5", "Merge pull request #5 from OPS-5")
	master := w.repo.Head("master")
	if _, err := w.release(t, "OPS-5", "prod-eu", anaP); workflow.KindOf(err) != workflow.Forbidden || !strings.Contains(workflow.UserMessage(err), "has not been released to prod-us") {
		t.Errorf("prod-eu before prod-us: %v, want Forbidden (requires_env)", err)
	}
	if len(w.deployer.Deploys()) != 0 || len(ln.requested) != 0 {
		t.Fatalf("refused releases deployed %v or asked approvals %v", w.deployer.Deploys(), ln.requested)
	}

	done := goRelease(t, w, "OPS-5", "prod-us", anaP)
	us, _ := ln.request(t, 0)
	if us.Env != "prod-us" || us.SHA != master {
		t.Errorf("request %+v: want prod-us at %s", us, master)
	}
	if _, err := w.svc.Approve(ctx, us.ID, cyP); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("prod-us: %v", err)
	}

	done = goRelease(t, w, "OPS-5", "prod-eu", anaP)
	eu, _ := ln.request(t, 1)
	if eu.Env != "prod-eu" || eu.ID == us.ID {
		t.Errorf("prod-eu request %+v: want its own request", eu)
	}
	// prod-us's approvers are not prod-eu's: ben (S0PROD) may not vote.
	if _, err := w.svc.Approve(ctx, eu.ID, benP); workflow.KindOf(err) != workflow.Forbidden {
		t.Errorf("prod-us approver on prod-eu: %v, want Forbidden", err)
	}
	if _, err := w.svc.Approve(ctx, eu.ID, cyP); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("prod-eu: %v", err)
	}
	if diff := cmp.Diff(w.deployer.Deploys(), []workflowtest.Deploy{{Env: "prod-us", SHA: master}, {Env: "prod-eu", SHA: master}}); diff != "" {
		t.Errorf("deploys (-got +want):\n%s", diff)
	}
	for _, env := range []string{"prod-us", "prod-eu"} {
		if last, ok, err := w.store.LastDeploy(ctx, env); err != nil || !ok || last.Result.SHA != master {
			t.Errorf("%s's last deploy: %+v %v %v, want %s", env, last, ok, err, master)
		}
		w.checkIdle(t, env)
	}
}

// TestApprovalsNeedAProductionEnv: a non-production env pushes the
// ticket's branch before it deploys, so approvals there are refused by
// the config rather than ignored.
func TestApprovalsNeedAProductionEnv(t *testing.T) {
	envs := []workflow.Env{{Name: "dev"}, {Name: "prod-eu", Approvals: workflow.ApprovalPolicy{Required: 1, Approvers: []string{"S0PROD"}}}}
	_, err := workflow.NewService(nil, workflow.Config{Envs: envs}, workflow.Deps{})
	if workflow.KindOf(err) != workflow.Invalid || !strings.Contains(err.Error(), "environments[1].approvals") || !strings.Contains(workflow.UserMessage(err), "mark it production: true") {
		t.Errorf("approvals on a non-production env: %v, want Invalid naming environments[1].approvals and production: true", err)
	}
}

// TestDeployCommit: the deploy command's use case respects holds, the
// production branch and approvals, and leaves a record of who deployed.
func TestDeployCommit(t *testing.T) {
	w := newWorld(t, func(c *workflow.Config, _ *workflow.Deps) {
		c.Envs = append(c.Envs, workflow.Env{Name: "prod-eu", Production: true, Approvals: workflow.ApprovalPolicy{Required: 1, Approvers: []string{"U3"}}})
	})
	ctx := t.Context()
	master := w.repo.Head("master")
	w.repo.Commit("OPS-1", "OPS-1: change", map[string]string{"one.yml": "x\n"})
	ticket := w.repo.Head("OPS-1")
	deploy := func(env, sha string, u workflow.User) error {
		_, err := w.svc.DeployCommit(ctx, workflow.DeployRequest{Env: env, Ref: "r", SHA: sha, User: u}, nil)
		return err
	}
	if _, err := w.svc.Hold(ctx, workflow.HoldRequest{Env: "dev", By: ben, Reason: "testing payments"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, env, sha string
		by             workflow.User
		kind           workflow.Kind
	}{
		{"held by another", "dev", ticket, ana, workflow.Busy},
		{"not a commit", "dev", "master", ben, workflow.Invalid},
		{"ticket to prod", "prod", ticket, ana, workflow.Forbidden},
		{"env with approvals", "prod-eu", master, ana, workflow.Forbidden},
		{"not allowed", "stg", master, ana, workflow.Forbidden},
	} {
		if err := deploy(tc.env, tc.sha, tc.by); workflow.KindOf(err) != tc.kind {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.kind)
		}
	}
	if got := w.deployer.Deploys(); len(got) != 0 {
		t.Fatalf("refused deploys ran: %v", got)
	}
	if err := deploy("dev", ticket, ben); err != nil {
		t.Errorf("the holder's deploy: %v", err)
	}
	if err := deploy("prod", master, ana); err != nil {
		t.Errorf("master to prod: %v", err)
	}
	if diff := cmp.Diff(w.deployer.Deploys(), []workflowtest.Deploy{{Env: "dev", SHA: ticket}, {Env: "prod", SHA: master}}); diff != "" {
		t.Errorf("deploys (-got +want):\n%s", diff)
	}
	evs, err := w.svc.History(ctx, "prod", 1)
	if err != nil || len(evs) != 1 || evs[0].Action != workflow.ActionDeployed || evs[0].Actor != ana.ID {
		t.Errorf("prod's history: %+v %v", evs, err)
	}
	w.checkIdle(t, "dev")
	w.checkIdle(t, "prod")
}

// TestAuditTrailNamesWhoDidWhatToWhom: a rejection is the rejecter's in
// the trail and in the release's journal; removing or resetting another
// person's ticket names its owner; a terminal user is marked unverified.
func TestAuditTrailNamesWhoDidWhatToWhom(t *testing.T) {
	w, ln, _ := approvalWorld(t)
	ctx := t.Context()
	done := goRelease(t, w, "OPS-5", "prod", anaP)
	a, _ := ln.request(t, 0)
	if _, err := w.svc.Reject(ctx, a.ID, workflow.User{ID: cyP.ID, Groups: cyP.Groups, Via: workflow.ViaTerminal}); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, done); workflow.KindOf(err) != workflow.Forbidden {
		t.Fatalf("rejected release: %v", err)
	}
	rec, err := w.svc.GetRelease(ctx, a.ReleaseID)
	if err != nil {
		t.Fatal(err)
	}
	if last := rec.Steps[len(rec.Steps)-1]; !slices.ContainsFunc(rec.Steps, func(s workflow.Step) bool { return s.Detail == "rejected: rejected by U3" }) {
		t.Errorf("the journal does not say who rejected; last step %+v", last)
	}
	want := map[string]string{ // action → actor, detail part
		workflow.ActionApprovalRejected: "U3 rejected by U3",
		workflow.ActionApprovalVote:     "U3 rejected request " + a.ID + " (0 of 2 approvals) [via the terminal, --as U3 not verified]",
	}
	evs, _ := w.svc.History(ctx, "prod", 0)
	for _, e := range evs {
		if s, ok := want[e.Action]; ok && strings.HasPrefix(s, e.Actor+" ") && strings.Contains(e.Detail, strings.TrimPrefix(s, e.Actor+" ")) {
			delete(want, e.Action)
		}
	}
	if len(want) > 0 {
		t.Errorf("prod's trail lacks %v:\n%+v", want, evs)
	}

	w.repo.Commit("OPS-1", "OPS-1: one", map[string]string{"one.yml": "1\n"})
	w.repo.Commit("OPS-2", "OPS-2: two", map[string]string{"two.yml": "2\n"})
	w.mustRelease(t, "OPS-1", "dev", ana)
	w.mustRelease(t, "OPS-2", "dev", workflow.User{ID: ben.ID, Via: workflow.ViaTerminal})
	if _, err := w.svc.Remove(ctx, "OPS-1", "dev", cy); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Reset(ctx, "dev", cy); err != nil {
		t.Fatal(err)
	}
	all, _ := w.svc.History(ctx, "dev", 0)
	if !slices.ContainsFunc(all, func(e workflow.Event) bool {
		return e.Action == workflow.ActionRemoved && e.Actor == cy.ID && strings.Contains(e.Detail, "U3 removed OPS-1 of U1;")
	}) || !slices.ContainsFunc(all, func(e workflow.Event) bool {
		return e.Action == workflow.ActionReset && e.Actor == cy.ID && strings.Contains(e.Detail, "U3 reset release/dev := master@") && strings.Contains(e.Detail, "OPS-2 of U2")
	}) {
		t.Errorf("dev's trail does not name the owners:\n%+v", all)
	}
	// A release asked from the terminal says its --as is unverified.
	if !slices.ContainsFunc(all, func(e workflow.Event) bool {
		return e.Action == workflow.ActionRequested && e.Ticket == "OPS-2" && e.Detail == "[via the terminal, --as U2 not verified]"
	}) {
		t.Errorf("OPS-2's request does not say it came from the terminal:\n%+v", all)
	}
}
