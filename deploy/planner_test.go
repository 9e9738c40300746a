package deploy

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// planRepo is four stacks: topics (two topics), queue (a parameter),
// static (never changes) and, from v2 on, extra.
func planRepo(v2 bool) fstest.MapFS {
	spec := `stacks:
  topics: {name: "{env}-topics", template: topics.yml}
  queue: {name: "{env}-queue", template: queue.yml, parameters: {Timeout: "30"}}
  static: {name: "{env}-static", template: static.yml}
`
	topics := `Resources:
  Orders: {Type: AWS::SNS::Topic, Properties: {TopicName: orders, DisplayName: Orders}}
  Audit: {Type: AWS::SNS::Topic, Properties: {DisplayName: Audit}}
`
	if v2 {
		spec = strings.Replace(spec, `"30"`, `"60"`, 1) + "  extra: {name: \"{env}-extra\", template: extra.yml}\n"
		topics = strings.Replace(topics, "TopicName: orders,", "TopicName: orders-v2,", 1)
		topics = strings.Replace(topics, "DisplayName: Audit", "DisplayName: Audit trail", 1)
		topics += "  Alerts: {Type: AWS::SNS::Topic}\n"
	}
	return fstest.MapFS{
		SpecFile:     {Data: []byte(spec)},
		"topics.yml": {Data: []byte(topics)},
		"queue.yml": {Data: []byte(`Parameters: {Timeout: {Type: String}}
Resources:
  Jobs: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: !Ref Timeout}}
`)},
		"static.yml": {Data: []byte("Resources:\n  Log: {Type: AWS::Logs::LogGroup}\n")},
		"extra.yml":  {Data: []byte("Resources:\n  Bucket: {Type: AWS::S3::Bucket}\n")},
	}
}

func (f *fixture) plan(t *testing.T, d *Deployer, sha string) (workflow.DeployPlan, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return d.Plan(ctx, workflow.Env{Name: "dev"}, sha)
}

// Plan lists every stack's action and every resource change, replacements
// marked, sorted and the same on every run; it leaves no change set and no
// stack behind and executes nothing.
func TestPlanChangeSets(t *testing.T) {
	f := newFixture(t)
	f.src["v1"], f.src["v2"] = planRepo(false), planRepo(true)
	d := f.deployer(t, nil)
	if res, err := f.deploy(t, d, "v1"); err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("deploy v1: %v %s", err, res.Summary)
	}
	f.srv.Wait()
	stacksBefore, changeSetsBefore, callsBefore := f.srv.Stacks(), f.srv.ChangeSets(), len(f.srv.Calls())

	p, err := f.plan(t, d, "v2")
	if err != nil {
		t.Fatal(err)
	}
	wantStacks := []workflow.PlannedStack{
		{Name: "dev-extra", Action: workflow.PlanCreate, Changes: 1},
		{Name: "dev-queue", Action: workflow.PlanUpdate, Changes: 1},
		{Name: "dev-static", Action: workflow.PlanNoChange, Reason: "unchanged since its last deploy"},
		{Name: "dev-topics", Action: workflow.PlanUpdate, Changes: 3},
	}
	if !reflect.DeepEqual(p.Stacks, wantStacks) {
		t.Errorf("stacks:\n got %+v\nwant %+v", p.Stacks, wantStacks)
	}
	wantChanges := []workflow.PlannedChange{
		{Stack: "dev-extra", Resource: "Bucket", Type: "AWS::S3::Bucket", Action: "Add"},
		{Stack: "dev-queue", Resource: "Jobs", Type: "AWS::SQS::Queue", Action: "Modify", Conditional: true},
		{Stack: "dev-topics", Resource: "Alerts", Type: "AWS::SNS::Topic", Action: "Add"},
		{Stack: "dev-topics", Resource: "Audit", Type: "AWS::SNS::Topic", Action: "Modify"},
		{Stack: "dev-topics", Resource: "Orders", Type: "AWS::SNS::Topic", Action: "Modify", Replacement: true},
	}
	if !reflect.DeepEqual(p.Changes, wantChanges) {
		t.Errorf("changes:\n got %+v\nwant %+v", p.Changes, wantChanges)
	}
	if want := "4 stacks: 1 create, 2 update, 1 no-change; 5 resource changes, 1 replacement, 1 conditional replacement"; p.Summary != want {
		t.Errorf("summary %q, want %q", p.Summary, want)
	}
	text := FormatPlan(p)
	for _, want := range []string{"!! Modify  Orders (AWS::SNS::Topic)  REPLACEMENT", "?! Modify  Jobs (AWS::SQS::Queue)  may need REPLACEMENT (Conditional)", "dev-extra", "create, 1 change"} {
		if !strings.Contains(text, want) {
			t.Errorf("FormatPlan lacks %q:\n%s", want, text)
		}
	}

	// Nothing was executed and nothing is left: not the change sets, not
	// the review stack of dev-extra.
	f.srv.Wait()
	for _, c := range f.srv.Calls()[callsBefore:] {
		if c.Action == "ExecuteChangeSet" {
			t.Errorf("the plan executed a change set of %s", c.StackName)
		}
	}
	if got := f.srv.Stacks(); !reflect.DeepEqual(got, stacksBefore) {
		t.Errorf("stacks after the plan: %v, before: %v", got, stacksBefore)
	}
	if got := f.srv.ChangeSets(); !slices.Equal(got, changeSetsBefore) {
		t.Errorf("change sets after the plan: %v, before: %v", got, changeSetsBefore)
	}

	// The same commit and AWS state give the same plan, and so the same
	// preview digest.
	for range 2 {
		again, err := f.plan(t, d, "v2")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again, p) {
			t.Errorf("the plan changed between runs:\n%+v\n%+v", p, again)
		}
	}
	if got := f.srv.Stacks(); !reflect.DeepEqual(got, stacksBefore) {
		t.Errorf("stacks after three plans: %v", got)
	}

	// With everything deployed, the plan is all no-change.
	if res, err := f.deploy(t, d, "v2"); err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("deploy v2: %v %s", err, res.Summary)
	}
	p, err = f.plan(t, d, "v2")
	if err != nil || len(p.Changes) != 0 || p.Summary != "4 stacks: 4 no-change; 0 resource changes" {
		t.Errorf("after deploying v2: %v %+v", err, p)
	}
}

// A stack that imports what a new stack of the same deploy exports cannot
// be planned before that one exists: it is shown as created, with why its
// changes are not listed, and its dependents are skipped.
func TestPlanNewDependencies(t *testing.T) {
	f := newFixture(t)
	f.src["c1"] = fourStacks()
	p, err := f.plan(t, f.deployer(t, nil), "c1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]workflow.PlannedStack{}
	for _, s := range p.Stacks {
		got[s.Name] = s
	}
	if got["dev-network"].Action != workflow.PlanCreate || got["dev-network"].Changes != 2 || got["dev-data"].Action != workflow.PlanCreate {
		t.Errorf("independent stacks: %+v", p.Stacks)
	}
	if app := got["dev-app"]; app.Action != workflow.PlanCreate || !strings.Contains(app.Reason, "once dev-") || !strings.Contains(app.Reason, "is deployed") {
		t.Errorf("app: %+v", app)
	}
	if dns := got["dev-dns"]; dns.Action != workflow.PlanSkipped {
		t.Errorf("dns: %+v", dns)
	}
	f.srv.Wait()
	if st := f.srv.Stacks(); len(st) != 0 {
		t.Errorf("the plan left stacks: %v", st)
	}
	if cs := f.srv.ChangeSets(); len(cs) != 0 {
		t.Errorf("the plan left change sets: %v", cs)
	}
}

// The account guard comes first: on a mismatch nothing but
// GetCallerIdentity is called and nothing is created.
func TestPlanAccountGuard(t *testing.T) {
	f := newFixture(t)
	f.src["v1"] = planRepo(false)
	d := f.deployer(t, func(c *Config) {
		c.Envs["dev"] = EnvAWS{Region: "eu-west-1", AccountID: "222222222222"}
	})
	_, err := f.plan(t, d, "v1")
	if workflow.KindOf(err) != workflow.Forbidden || !strings.Contains(err.Error(), "reach AWS account 111111111111") {
		t.Fatalf("err = %v", err)
	}
	for _, c := range f.srv.Calls() {
		if c.Action != "GetCallerIdentity" {
			t.Errorf("called %s before the guard passed", c.Action)
		}
	}
	if st, cs := f.srv.Stacks(), f.srv.ChangeSets(); len(st) != 0 || len(cs) != 0 {
		t.Errorf("created %v %v", st, cs)
	}
}

// A commit without a spec plans nothing.
func TestPlanNoSpec(t *testing.T) {
	f := newFixture(t)
	f.src["bare"] = fstest.MapFS{"README": {Data: []byte("hi")}}
	p, err := f.plan(t, f.deployer(t, nil), "bare")
	if err != nil || len(p.Stacks) != 0 || !strings.Contains(p.Summary, "nothing to deploy") || len(f.srv.Calls()) != 0 {
		t.Errorf("%v %+v %v", err, p, f.srv.Calls())
	}
}
