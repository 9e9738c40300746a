package deploy

import (
	"fmt"
	"testing"

	"github.com/code-releaser/code-releaser/workflow"
)

// Drift lists every drifted resource across DescribeStackResourceDrifts'
// pages, and Deployed reads the stack's tags; a missing stack is said so.
func TestDriftPagesAndDeployed(t *testing.T) {
	f := newAlarmFixture(t)
	f.src["c1"] = appRepo(25, "one", "https://one.example", "")
	d := f.deployer(t, nil)
	if res, err := f.deploy(t, d, "c1"); err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("%v %s: %s", err, res.Status, res.Summary)
	}
	for i := range 25 {
		id := "Topic" + string(rune('A'+i))
		if err := f.srv.DriftResource("dev-app", id, "MODIFIED", "/Properties/DisplayName", "one", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := t.Context()
	got, err := d.Drift(ctx, workflow.Env{Name: "dev"}, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Status != "DRIFTED" || len(got[0].Resources) != 25 || got[0].Resources[24].Differences[0] != "/Properties/DisplayName: expected one, actual 24" {
		t.Fatalf("drift: %+v", got)
	}
	st, err := d.Deployed(ctx, workflow.Env{Name: "dev"}, "c1")
	if err != nil || len(st) != 1 || !st[0].Exists || st[0].Commit != "c1" || !st[0].Current {
		t.Fatalf("deployed: %+v, %v", st, err)
	}
	f.src["c2"] = appRepo(25, "two", "https://one.example", "")
	if st, err = d.Deployed(ctx, workflow.Env{Name: "dev"}, "c2"); err != nil || st[0].Current {
		t.Errorf("a stack whose template changed since is current: %+v, %v", st, err)
	}
	c3 := appRepo(1, "one", "https://one.example", "")
	c3[SpecFile].Data = []byte("stacks:\n  web: {name: \"{env}-web\", template: app.yml, parameters: {Url: u}}\n")
	f.src["c3"] = c3
	got, err = d.Drift(ctx, workflow.Env{Name: "dev"}, "c3")
	if err != nil || len(got) != 1 || got[0].Problem != "the stack does not exist" {
		t.Errorf("drift of a stack never deployed: %+v, %v", got, err)
	}
}
