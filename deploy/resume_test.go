package deploy

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/code-releaser/code-releaser/deploy/cfntest"
	"github.com/code-releaser/code-releaser/workflow"
)

// oneStack is a repo of one stack of three topics named after v.
func oneStack(v string) fstest.MapFS {
	body := "Resources:\n"
	for _, r := range []string{"A", "B", "C"} {
		body += "  " + r + ": {Type: AWS::SNS::Topic, Properties: {DisplayName: " + v + "}}\n"
	}
	return fstest.MapFS{
		SpecFile:  {Data: []byte("stacks:\n  net: {name: \"{env}-net\", template: net.yml}\n")},
		"net.yml": {Data: []byte(body)},
	}
}

// slowFixture's operations take about a second, long enough to be
// found in progress.
func slowFixture(t *testing.T) *fixture {
	t.Helper()
	srv := cfntest.New(cfntest.Options{Account: "111111111111", Region: "eu-west-1",
		ResourceDelay: 300 * time.Millisecond, ChangeSetDelay: 5 * time.Millisecond, ExecuteLag: 10 * time.Millisecond})
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, src: mapSource{}}
}

// abandon deploys sha and gives up (a lost lease) once CloudFormation
// runs the update, leaving the stack UPDATE_IN_PROGRESS.
func (f *fixture) abandon(t *testing.T, d *Deployer, sha string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d.Deploy(ctx, workflow.Env{Name: "dev"}, sha, func(s workflow.Step) {
		if s.Detail == "UPDATE_IN_PROGRESS" {
			cancel()
		}
	})
	// Past cfntest's ExecuteLag, the stack shows the update.
	for i := 0; i < 100 && f.srv.StackStatus("dev-net") != "UPDATE_IN_PROGRESS"; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if st := f.srv.StackStatus("dev-net"); st != "UPDATE_IN_PROGRESS" {
		t.Fatalf("the abandoned deploy left the stack %s, want UPDATE_IN_PROGRESS", st)
	}
}

func (f *fixture) progressText() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var lines []string
	for _, s := range f.steps {
		lines = append(lines, s.Name+": "+s.Detail)
	}
	return strings.Join(lines, "\n")
}

func TestResumeAdoptsItsOperationInProgress(t *testing.T) {
	f := slowFixture(t)
	f.src["c1"], f.src["c2"] = oneStack("one"), oneStack("two")
	d := f.deployer(t, nil)
	if res, err := f.deploy(t, d, "c1"); err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("c1: %v %s", err, res.Summary)
	}
	f.abandon(t, d, "c2")
	before := len(f.srv.Calls())
	res, err := f.deploy(t, d, "c2") // the resumed job
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workflow.DeploySucceeded || statuses(res)["dev-net"] != "UPDATE_COMPLETE" {
		t.Fatalf("resumed: %s %v %s\n%s", res.Status, statuses(res), res.Summary, f.progressText())
	}
	if m := mutations(f.srv.Calls()[before:]); len(m) > 0 {
		t.Errorf("the resumed deploy started its own operation instead of adopting the running one: %v", m)
	}
	if !strings.Contains(f.progressText(), "earlier attempt is still running") {
		t.Errorf("progress does not say it follows the earlier attempt:\n%s", f.progressText())
	}
	if ops := f.srv.Operations(); len(ops) != 2 {
		t.Errorf("%d operations, want the create and one update: %+v", len(ops), ops)
	}
}

func TestResumeWaitsForAnotherOperation(t *testing.T) {
	f := slowFixture(t)
	f.src["c1"], f.src["c2"], f.src["c3"] = oneStack("one"), oneStack("two"), oneStack("three")
	d := f.deployer(t, nil)
	if res, err := f.deploy(t, d, "c1"); err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("c1: %v %s", err, res.Summary)
	}
	f.abandon(t, d, "c2")
	res, err := f.deploy(t, d, "c3")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workflow.DeploySucceeded || statuses(res)["dev-net"] != "UPDATE_COMPLETE" {
		t.Fatalf("c3: %s %v %s\n%s", res.Status, statuses(res), res.Summary, f.progressText())
	}
	ops := f.srv.Operations()
	if len(ops) != 3 {
		t.Fatalf("%d operations, want create, c2's update, c3's update: %+v", len(ops), ops)
	}
	if ops[2].Start.Before(ops[1].End) || ops[1].FinalStatus != "UPDATE_COMPLETE" {
		t.Errorf("c3's update started %v, before c2's ended %v (%s)", ops[2].Start, ops[1].End, ops[1].FinalStatus)
	}
	if !strings.Contains(f.progressText(), "waiting for another operation") {
		t.Errorf("progress does not say it waits:\n%s", f.progressText())
	}
	// What is deployed is c3.
	again, err := f.deploy(t, d, "c3")
	if err != nil || statuses(again)["dev-net"] != StatusUnchanged {
		t.Errorf("c3 again: %v %v", err, statuses(again))
	}
}

func TestWaitingIsBoundedByTheDeploy(t *testing.T) {
	f := newFixture(t)
	f.src["c1"] = oneStack("one")
	d := f.deployer(t, nil)
	if res, err := f.deploy(t, d, "c1"); err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("c1: %v %s", err, res.Summary)
	}
	if err := f.srv.SetStackStatus("dev-net", "UPDATE_IN_PROGRESS"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	res, err := d.Deploy(ctx, workflow.Env{Name: "dev"}, "c1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Stacks[0]; res.Status != workflow.DeployFailed || !strings.Contains(r.Reason, "still UPDATE_IN_PROGRESS when the deploy ended") {
		t.Errorf("got %s %s %q", res.Status, r.Status, r.Reason)
	}
}
