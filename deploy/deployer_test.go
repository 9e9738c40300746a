package deploy

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/code-releaser/code-releaser/deploy/cfntest"
	"github.com/code-releaser/code-releaser/workflow"
)

// mapSource serves fstest trees by SHA.
type mapSource map[string]fs.FS

func (m mapSource) Files(_ context.Context, sha string) (fs.FS, error) {
	f, ok := m[sha]
	if !ok {
		return nil, fmt.Errorf("no commit %s", sha)
	}
	return f, nil
}

// fourStacks is a diamond: network and data are independent, app imports
// both, dns imports app.
func fourStacks() fstest.MapFS {
	exp := func(res, export string, imports ...string) []byte {
		s := "Resources:\n  " + res + ":\n    Type: AWS::SNS::Topic\n"
		if len(imports) > 0 {
			s += "    Properties:\n      Tags:\n"
			for _, im := range imports {
				s += "        - {Key: k, Value: !ImportValue " + im + "}\n"
			}
		}
		s += "  " + res + "Two: {Type: AWS::SNS::Topic}\n"
		s += "Outputs:\n  Out: {Value: !Ref " + res + ", Export: {Name: !Sub \"${AWS::StackName}-" + export + "\"}}\n"
		return []byte(s)
	}
	return fstest.MapFS{
		SpecFile: {Data: []byte(`stacks:
  network: {name: "{env}-network", template: network.yml}
  data: {name: "{env}-data", template: data.yml}
  app: {name: "{env}-app", template: app.yml}
  dns: {name: "{env}-dns", template: dns.yml}
`)},
		"network.yml": {Data: exp("Vpc", "vpc")},
		"data.yml":    {Data: exp("Db", "db")},
		"app.yml":     {Data: exp("Service", "svc", "dev-network-vpc", "dev-data-db")},
		"dns.yml":     {Data: exp("Record", "dns", "dev-app-svc")},
	}
}

type fixture struct {
	srv   *cfntest.Server
	src   mapSource
	steps []workflow.Step
	mu    sync.Mutex
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := cfntest.New(cfntest.Options{Account: "111111111111", Region: "eu-west-1",
		ResourceDelay: 20 * time.Millisecond, ChangeSetDelay: 5 * time.Millisecond, ExecuteLag: 10 * time.Millisecond})
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, src: mapSource{}}
}

func (f *fixture) deployer(t *testing.T, mod func(*Config)) *Deployer {
	t.Helper()
	cfg := Config{
		Envs:         map[string]EnvAWS{"dev": {Region: "eu-west-1", AccountID: "111111111111"}},
		Parallel:     4,
		PollInterval: 5 * time.Millisecond,
		LoadAWS:      func(ctx context.Context, region string) (aws.Config, error) { return f.srv.Config(ctx) },
		WorkDir:      t.TempDir(),
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := New(slog.New(slog.NewTextHandler(io.Discard, nil)), f.src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *fixture) deploy(t *testing.T, d *Deployer, sha string) (workflow.DeployResult, error) {
	t.Helper()
	f.mu.Lock()
	f.steps = nil
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return d.Deploy(ctx, workflow.Env{Name: "dev"}, sha, func(s workflow.Step) {
		f.mu.Lock()
		f.steps = append(f.steps, s)
		f.mu.Unlock()
	})
}

func statuses(r workflow.DeployResult) map[string]string {
	out := map[string]string{}
	for _, s := range r.Stacks {
		out[s.Name] = s.Status
	}
	return out
}

func mutations(calls []cfntest.Call) []string {
	var out []string
	for _, c := range calls {
		if c.Mutating() {
			out = append(out, c.Action+" "+c.StackName)
		}
	}
	return out
}

func TestDeployDAG(t *testing.T) {
	f := newFixture(t)
	f.src["c1"] = fourStacks()
	d := f.deployer(t, nil)
	res, err := f.deploy(t, d, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workflow.DeploySucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Summary)
	}
	for name, st := range statuses(res) {
		if st != "CREATE_COMPLETE" {
			t.Errorf("%s: %s", name, st)
		}
	}
	ops := map[string]cfntest.Operation{}
	for _, o := range f.srv.Operations() {
		ops[o.Stack] = o
	}
	net, data, app, dns := ops["dev-network"], ops["dev-data"], ops["dev-app"], ops["dev-dns"]
	if !(net.Start.Before(data.End) && data.Start.Before(net.End)) {
		t.Errorf("network [%v, %v] and data [%v, %v] did not overlap", net.Start, net.End, data.Start, data.End)
	}
	if app.Start.Before(net.End) || app.Start.Before(data.End) || dns.Start.Before(app.End) {
		t.Errorf("order broken: app starts %v (network ends %v, data ends %v), dns starts %v (app ends %v)", app.Start, net.End, data.End, dns.Start, app.End)
	}

	// Again, same commit: nothing is touched.
	before := len(f.srv.Calls())
	res, err = f.deploy(t, d, "c1")
	if err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("rerun: %v %s", err, res.Summary)
	}
	for name, st := range statuses(res) {
		if st != StatusUnchanged {
			t.Errorf("rerun %s: %s", name, st)
		}
	}
	if m := mutations(f.srv.Calls()[before:]); len(m) > 0 {
		t.Errorf("rerun changed things: %v", m)
	}

	// --all: change sets say "no changes"; nothing executes.
	before = len(f.srv.Calls())
	res, err = f.deploy(t, f.deployer(t, func(c *Config) { c.All = true }), "c1")
	if err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("--all: %v %s", err, res.Summary)
	}
	for name, st := range statuses(res) {
		if st != StatusNoChanges {
			t.Errorf("--all %s: %s", name, st)
		}
	}
	for _, m := range mutations(f.srv.Calls()[before:]) {
		if strings.HasPrefix(m, "ExecuteChangeSet") {
			t.Errorf("--all executed: %s", m)
		}
	}

	// A change to one template deploys that stack only.
	c2 := fourStacks()
	c2["dns.yml"] = &fstest.MapFile{Data: []byte(strings.Replace(string(c2["dns.yml"].Data), "RecordTwo: {Type: AWS::SNS::Topic}", "RecordTwo: {Type: AWS::SNS::Topic, Properties: {DisplayName: two}}", 1))}
	f.src["c2"] = c2
	res, err = f.deploy(t, d, "c2")
	if err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("c2: %v %s", err, res.Summary)
	}
	want := map[string]string{"dev-network": StatusUnchanged, "dev-data": StatusUnchanged, "dev-app": StatusUnchanged, "dev-dns": "UPDATE_COMPLETE"}
	for name, st := range statuses(res) {
		if st != want[name] {
			t.Errorf("c2 %s: %s, want %s", name, st, want[name])
		}
	}
}

func TestDeployFailureSkipsDependents(t *testing.T) {
	f := newFixture(t)
	f.src["c1"] = fourStacks()
	f.srv.FailResource("dev-network", "VpcTwo", "create", `Resource handler returned message: "The CIDR '10.0.0.0/33' is invalid."`)
	res, err := f.deploy(t, f.deployer(t, nil), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workflow.DeployFailed {
		t.Fatalf("status %s", res.Status)
	}
	got := statuses(res)
	want := map[string]string{"dev-network": "ROLLBACK_COMPLETE", "dev-data": "CREATE_COMPLETE", "dev-app": StatusSkipped, "dev-dns": StatusSkipped}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s: %s, want %s", n, got[n], w)
		}
	}
	net := res.Stacks[0]
	if !strings.Contains(net.Reason, "VpcTwo (AWS::SNS::Topic) CREATE_FAILED") || !strings.Contains(net.Reason, "10.0.0.0/33") {
		t.Errorf("network reason: %q", net.Reason)
	}
	if !strings.Contains(res.Summary, "dev-network ROLLBACK_COMPLETE") || !strings.Contains(res.Stacks[2].Reason, "depends on dev-network") {
		t.Errorf("summary %q; app reason %q", res.Summary, res.Stacks[2].Reason)
	}
	f.srv.Wait()
	if st := f.srv.StackStatus("dev-network"); st != "" {
		t.Errorf("the failed new stack is still there: %s (OnStackFailure=DELETE)", st)
	}
	// The next deploy creates it again and finishes the rest.
	res, err = f.deploy(t, f.deployer(t, nil), "c1")
	if err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("second deploy: %v %s", err, res.Summary)
	}
}

func TestDeployRolledBackUpdateIsFailure(t *testing.T) {
	f := newFixture(t)
	f.src["c1"] = fourStacks()
	d := f.deployer(t, nil)
	if res, err := f.deploy(t, d, "c1"); err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("setup: %v %s", err, res.Summary)
	}
	c2 := fourStacks()
	c2["data.yml"] = &fstest.MapFile{Data: []byte(strings.Replace(string(c2["data.yml"].Data), "DbTwo: {Type: AWS::SNS::Topic}", "DbTwo: {Type: AWS::SNS::Topic, Properties: {DisplayName: x}}", 1))}
	f.src["c2"] = c2
	f.srv.FailResource("dev-data", "DbTwo", "update", "Resource handler returned message: \"Rate exceeded\"")
	res, err := f.deploy(t, d, "c2")
	if err != nil {
		t.Fatal(err)
	}
	got := statuses(res)
	if res.Status != workflow.DeployFailed || got["dev-data"] != "UPDATE_ROLLBACK_COMPLETE" {
		t.Fatalf("status %s, data %s: %s", res.Status, got["dev-data"], res.Summary)
	}
	if !strings.Contains(res.Stacks[1].Reason, "DbTwo (AWS::SNS::Topic) UPDATE_FAILED: Resource handler returned message: \"Rate exceeded\"") {
		t.Errorf("reason %q", res.Stacks[1].Reason)
	}
	// A rollback that fails leaves UPDATE_ROLLBACK_FAILED, reported with
	// guidance; the next deploy refuses the stack.
	f.srv.FailResource("dev-data", "DbTwo", "update", "boom")
	f.srv.StuckRollback("dev-data")
	res, _ = f.deploy(t, d, "c2")
	if got := statuses(res)["dev-data"]; got != "UPDATE_ROLLBACK_FAILED" || !strings.Contains(res.Stacks[1].Reason, "continue-update-rollback") {
		t.Fatalf("stuck rollback: %s %q", got, res.Stacks[1].Reason)
	}
	res, _ = f.deploy(t, d, "c2")
	if got := statuses(res)["dev-data"]; got != StatusRefused || !strings.Contains(res.Stacks[1].Reason, "continue-update-rollback") {
		t.Errorf("after stuck rollback: %s %q", got, res.Stacks[1].Reason)
	}
}

func TestDeployRefusals(t *testing.T) {
	for _, tc := range []struct {
		status, want string
	}{
		{"ROLLBACK_COMPLETE", "aws cloudformation delete-stack --stack-name dev-network"},
		{"UPDATE_ROLLBACK_FAILED", "continue-update-rollback"},
	} {
		t.Run(tc.status, func(t *testing.T) {
			f := newFixture(t)
			f.src["c1"] = fourStacks()
			d := f.deployer(t, nil)
			if res, err := f.deploy(t, d, "c1"); err != nil || res.Status != workflow.DeploySucceeded {
				t.Fatalf("setup: %v %s", err, res.Summary)
			}
			if err := f.srv.SetStackStatus("dev-network", tc.status); err != nil {
				t.Fatal(err)
			}
			before := len(f.srv.Calls())
			res, err := f.deploy(t, f.deployer(t, func(c *Config) { c.All = true }), "c1")
			if err != nil {
				t.Fatal(err)
			}
			got := statuses(res)
			if res.Status != workflow.DeployFailed || got["dev-network"] != StatusRefused || !strings.Contains(res.Stacks[0].Reason, tc.want) {
				t.Errorf("got %s %v %q", res.Status, got, res.Stacks[0].Reason)
			}
			if got["dev-app"] != StatusSkipped || got["dev-dns"] != StatusSkipped || got["dev-data"] != StatusNoChanges {
				t.Errorf("others: %v", got)
			}
			for _, m := range mutations(f.srv.Calls()[before:]) {
				if strings.HasSuffix(m, "dev-network") {
					t.Errorf("refused stack touched: %s", m)
				}
			}
		})
	}
}

func TestDeployAccountGuard(t *testing.T) {
	f := newFixture(t)
	f.src["c1"] = fourStacks()
	d := f.deployer(t, func(c *Config) {
		c.Envs["dev"] = EnvAWS{Region: "eu-west-1", AccountID: "222222222222"}
	})
	_, err := f.deploy(t, d, "c1")
	if workflow.KindOf(err) != workflow.Forbidden || !strings.Contains(err.Error(), "reach AWS account 111111111111") {
		t.Fatalf("err = %v", err)
	}
	if m := mutations(f.srv.Calls()); len(m) > 0 {
		t.Errorf("changed despite the guard: %v", m)
	}
	for _, c := range f.srv.Calls() {
		if c.Action != "GetCallerIdentity" {
			t.Errorf("called %s before the guard passed", c.Action)
		}
	}
	// Through a role of the env's account, the guard passes.
	d = f.deployer(t, func(c *Config) {
		c.Envs["dev"] = EnvAWS{Region: "eu-west-1", AccountID: "333333333333", RoleARN: "arn:aws:iam::333333333333:role/deployer"}
	})
	if res, err := f.deploy(t, d, "c1"); err != nil || res.Status != workflow.DeploySucceeded {
		t.Errorf("with role: %v %s", err, res.Summary)
	}
}

func TestDeployBadInputBeforeAWS(t *testing.T) {
	f := newFixture(t)
	bad := fourStacks()
	bad["app.yml"] = &fstest.MapFile{Data: []byte("Resources: {A: {Type: AWS::SNS::Topic, Properties: {X: !ImportValue nowhere}}}\n")}
	bad["dns.yml"] = &fstest.MapFile{Data: []byte("Resources: [\n")}
	f.src["bad"] = bad
	_, err := f.deploy(t, f.deployer(t, nil), "bad")
	if workflow.KindOf(err) != workflow.Invalid || !strings.Contains(err.Error(), "dns.yml:1") {
		t.Fatalf("err = %v", err)
	}
	if n := len(f.srv.Calls()); n != 0 {
		t.Errorf("%d AWS calls before the spec was valid", n)
	}
	// An import nobody exports: refused after ListExports, nothing changed.
	missing := fourStacks()
	missing["app.yml"] = &fstest.MapFile{Data: []byte("Resources: {A: {Type: AWS::SNS::Topic, Properties: {X: !ImportValue nowhere}}}\n")}
	f.src["missing"] = missing
	_, err = f.deploy(t, f.deployer(t, nil), "missing")
	if workflow.KindOf(err) != workflow.Invalid || !strings.Contains(err.Error(), `app import "nowhere"`) {
		t.Fatalf("err = %v", err)
	}
	if m := mutations(f.srv.Calls()); len(m) > 0 {
		t.Errorf("changed: %v", m)
	}
}

func TestDeployPlan(t *testing.T) {
	f := newFixture(t)
	f.src["c1"] = fourStacks()
	res, err := f.deploy(t, f.deployer(t, func(c *Config) { c.Plan = true }), "c1")
	if err != nil {
		t.Fatal(err)
	}
	// The dependents of new stacks cannot be planned: their imports do not
	// exist yet, so their change sets fail.
	got := statuses(res)
	if got["dev-network"] != StatusPlanned || got["dev-data"] != StatusPlanned {
		t.Errorf("plan: %v", got)
	}
	for _, c := range f.srv.Calls() {
		if c.Action == "ExecuteChangeSet" {
			t.Errorf("plan executed %s", c.StackName)
		}
	}
	f.srv.Wait()
	for _, n := range []string{"dev-network", "dev-data"} {
		if st := f.srv.StackStatus(n); st != "" {
			t.Errorf("plan left %s in %s", n, st)
		}
	}
}

func TestDeployCommands(t *testing.T) {
	f := newFixture(t)
	repo := fourStacks()
	repo[SpecFile] = &fstest.MapFile{Data: append(repo[SpecFile].Data, []byte(`commands:
  - name: show
    argv: [sh, -c, 'echo "vpc=$STACK_NETWORK_OUT env=$CODE_RELEASER_ENV"; grep -c stack_name "$CODE_RELEASER_OUTPUTS"; echo "secret=$AWS_SECRET_ACCESS_KEY"; cat hello.txt']
    dir: scripts
    after: [dns]
  - name: slow
    argv: [sleep, "5"]
    timeout: 200ms
  - name: never
    argv: ["true"]
`)...)}
	repo["scripts/hello.txt"] = &fstest.MapFile{Data: []byte("hello from the checkout\n")}
	f.src["c1"] = repo
	// Steps get the credentials of the env's role (none without one).
	res, err := f.deploy(t, f.deployer(t, func(c *Config) {
		c.Envs["dev"] = EnvAWS{Region: "eu-west-1", AccountID: "111111111111", RoleARN: "arn:aws:iam::111111111111:role/deployer"}
	}), "c1")
	if err != nil {
		t.Fatal(err)
	}
	got := statuses(res)
	if got["command:show"] != "succeeded" || got["command:slow"] != "failed" || got["command:never"] != "skipped" {
		t.Fatalf("commands: %v", got)
	}
	var out []string
	for _, s := range f.steps {
		if s.Name == "show" {
			out = append(out, s.Detail)
		}
	}
	text := strings.Join(out, "\n")
	for _, want := range []string{"vpc=dev-network-Vpc-", "env=dev", "\n4\n", "secret=[redacted]", "hello from the checkout"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "cfntest-secret-") {
		t.Error("the secret key reached the output")
	}
	if r := res.Stacks[5]; !strings.Contains(r.Reason, "timed out") {
		t.Errorf("slow: %q", r.Reason)
	}
}

// TestDeployImportersStartDuringCleanup: once an update reaches
// UPDATE_COMPLETE_CLEANUP_IN_PROGRESS its exports are the new ones and
// its success is settled, so the stack importing them starts while the
// removed resources are still being deleted, and both end UPDATE_COMPLETE.
// A stack that names it in depends_on (which may be about what the
// cleanup deletes) still waits for the end.
func TestDeployImportersStartDuringCleanup(t *testing.T) {
	f := newFixture(t)
	tree := func(name string, old int) fstest.MapFS {
		base := "Resources:\n  Topic: {Type: AWS::SNS::Topic, Properties: {DisplayName: " + name + "}}\n"
		for i := range old {
			base += fmt.Sprintf("  Old%d: {Type: AWS::SNS::Topic}\n", i)
		}
		base += "Outputs:\n  Arn: {Value: !Ref Topic, Export: {Name: !Sub \"${AWS::StackName}-arn\"}}\n"
		return fstest.MapFS{
			SpecFile: {Data: []byte("stacks:\n  base: {name: \"{env}-base\", template: base.yml}\n  app: {name: \"{env}-app\", template: app.yml}\n" +
				"  late: {name: \"{env}-late\", template: late.yml, depends_on: [base]}\n")},
			"late.yml": {Data: []byte("Resources:\n  Bucket: {Type: AWS::S3::Bucket, Properties: {Tags: [{Key: v, Value: " + name + "}]}}\n")},
			"base.yml": {Data: []byte(base)},
			"app.yml":  {Data: []byte("Resources:\n  Queue: {Type: AWS::SQS::Queue, Properties: {Tags: [{Key: topic, Value: !ImportValue dev-base-arn}, {Key: v, Value: " + name + "}]}}\n")},
		}
	}
	// v2 updates both and removes base's four old topics: 80 ms of cleanup.
	f.src["v1"], f.src["v2"] = tree("v1", 4), tree("v2", 0)
	d := f.deployer(t, nil)
	if res, err := f.deploy(t, d, "v1"); err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("v1: %v %s", err, res.Summary)
	}
	res, err := f.deploy(t, d, "v2")
	if err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("v2: %v %s", err, res.Summary)
	}
	if got := statuses(res); got["dev-base"] != "UPDATE_COMPLETE" || got["dev-app"] != "UPDATE_COMPLETE" || got["dev-late"] != "UPDATE_COMPLETE" {
		t.Errorf("statuses %v", got)
	}
	ops := map[string]cfntest.Operation{}
	for _, op := range f.srv.Operations() {
		if op.Kind == "UPDATE" {
			ops[op.Stack] = op
		}
	}
	base, app, late := ops["dev-base"], ops["dev-app"], ops["dev-late"]
	if !app.Start.Before(base.End) {
		t.Errorf("app's update started %v after base's ended: it waited for the cleanup", app.Start.Sub(base.End))
	}
	if late.Start.Before(base.End) {
		t.Errorf("late's update started %v before base's ended, despite its depends_on", base.End.Sub(late.Start))
	}
	if f.srv.StackStatus("dev-base") != "UPDATE_COMPLETE" || len(f.srv.Exports()) != 1 {
		t.Errorf("base %s, exports %v", f.srv.StackStatus("dev-base"), f.srv.Exports())
	}
}
