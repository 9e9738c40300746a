package workflow_test

import (
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
