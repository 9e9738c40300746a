package deploy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/smithy-go"

	"github.com/code-releaser/code-releaser/deploy/cfntest"
	"github.com/code-releaser/code-releaser/workflow"
)

// appRepo is one stack, app, of topics (n of them, each tagged with
// version so that a new version updates them all), with an output Url
// from the Url parameter, and the spec's envs section as given.
func appRepo(n int, version, url, envs string) fstest.MapFS {
	var b strings.Builder
	b.WriteString("Parameters:\n  Url: {Type: String}\nResources:\n")
	for i := range n {
		b.WriteString("  Topic" + string(rune('A'+i)) + ":\n    Type: AWS::SNS::Topic\n    Properties:\n      DisplayName: " + version + "\n")
	}
	b.WriteString("Outputs:\n  Url: {Value: !Ref Url}\n")
	return fstest.MapFS{
		SpecFile:  {Data: []byte("stacks:\n  app: {name: \"{env}-app\", template: app.yml, parameters: {Url: \"" + url + "\"}}\n" + envs)},
		"app.yml": {Data: []byte(b.String())},
	}
}

func newAlarmFixture(t *testing.T) *fixture {
	t.Helper()
	srv := cfntest.New(cfntest.Options{Account: "111111111111", Region: "eu-west-1",
		ResourceDelay: 20 * time.Millisecond, ChangeSetDelay: 5 * time.Millisecond, MonitoringMinute: 20 * time.Millisecond})
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, src: mapSource{}}
}

// deployWhen deploys sha and calls hook once, on the first progress step
// whose detail contains trigger.
func (f *fixture) deployWhen(t *testing.T, d *Deployer, ctx context.Context, sha, trigger string, hook func()) (workflow.DeployResult, error) {
	t.Helper()
	var once sync.Once
	f.mu.Lock()
	f.steps = nil
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return d.Deploy(ctx, workflow.Env{Name: "dev"}, sha, func(s workflow.Step) {
		f.mu.Lock()
		f.steps = append(f.steps, s)
		f.mu.Unlock()
		if trigger != "" && strings.Contains(s.Detail, trigger) {
			once.Do(hook)
		}
	})
}

const rollbackEnvs = `envs:
  dev:
    rollback:
      alarms: ["{env}-api-*"]
      monitoring: 10m
`

func TestRollbackTriggerRollsBackTheUpdate(t *testing.T) {
	f := newAlarmFixture(t)
	arn := f.srv.PutAlarm("dev-api-5xx")
	f.srv.PutAlarm("stg-api-5xx") // another env's: not a trigger of dev
	f.src["c1"] = appRepo(3, "one", "https://one.example", rollbackEnvs)
	f.src["c2"] = appRepo(3, "two", "https://two.example", rollbackEnvs)
	d := f.deployer(t, nil)
	if res, err := f.deploy(t, d, "c1"); err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("first deploy: %v %s: %s", err, res.Status, res.Summary)
	}
	// The alarm fires while the update runs.
	res, err := f.deployWhen(t, d, workflow.WithReleaseID(context.Background(), "r-2"), "c2", "update started", func() {
		if err := f.srv.SetAlarmState("dev-api-5xx", cfntest.AlarmAlarm, "Threshold Crossed: 5xx > 10"); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workflow.DeployFailed {
		t.Fatalf("status %s, want failed: %s", res.Status, res.Summary)
	}
	if got := statuses(res)["dev-app"]; got != "UPDATE_ROLLBACK_COMPLETE" {
		t.Errorf("dev-app: %s, want UPDATE_ROLLBACK_COMPLETE", got)
	}
	for _, want := range []string{"dev-app UPDATE_ROLLBACK_COMPLETE", "rollback alarm dev-api-5xx went to ALARM during the update"} {
		if !strings.Contains(res.Summary, want) {
			t.Errorf("summary %q does not say %q", res.Summary, want)
		}
	}
	// CloudFormation was given the trigger, and the stack is back on c1.
	if got := f.srv.ChangeSetTriggers("dev-app"); len(got) != 2 || got[0] != arn || got[1] != arn {
		t.Errorf("rollback triggers of dev-app's change sets: %v, want [%s] on both", got, arn)
	}
	if got := f.srv.StackTags("dev-app")[CommitTag]; got != "c1" {
		t.Errorf("commit tag after the rollback: %q, want c1", got)
	}

	// With the alarm back to OK, the same commit deploys, and is tagged
	// with what it was deployed from.
	f.srv.SetAlarmState("dev-api-5xx", cfntest.AlarmOK, "")
	res, err = f.deployWhen(t, d, workflow.WithReleaseID(context.Background(), "r-3"), "c2", "", nil)
	if err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("deploy after the alarm cleared: %v %s: %s", err, res.Status, res.Summary)
	}
	tags := f.srv.StackTags("dev-app")
	for k, want := range map[string]string{CommitTag: "c2", EnvTag: "dev", ReleaseIDTag: "r-3"} {
		if tags[k] != want {
			t.Errorf("tag %s = %q, want %q", k, tags[k], want)
		}
	}
}

func TestRollbackTriggerOnCreateAndMonitoring(t *testing.T) {
	f := newAlarmFixture(t)
	f.srv.PutAlarm("dev-api-5xx")
	f.src["c1"] = appRepo(1, "one", "https://one.example", strings.Replace(rollbackEnvs, "monitoring: 10m", "monitoring: 60m", 1))
	d := f.deployer(t, nil)
	// The alarm fires only once the resource is created: during the
	// monitoring period (60 minutes of 20ms here; the breach ends it).
	res, err := f.deployWhen(t, d, context.Background(), "c1", "create started", func() {
		go func() {
			for f.srv.ResourceStatus("dev-app", "TopicA") != "CREATE_COMPLETE" {
				time.Sleep(time.Millisecond)
			}
			f.srv.SetAlarmState("dev-api-5xx", cfntest.AlarmAlarm, "Threshold Crossed")
		}()
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workflow.DeployFailed || statuses(res)["dev-app"] != "ROLLBACK_COMPLETE" {
		t.Fatalf("got %s (%v): %s; want failed with ROLLBACK_COMPLETE", res.Status, statuses(res), res.Summary)
	}
	if !strings.Contains(res.Summary, "rollback alarm dev-api-5xx went to ALARM during the creation") {
		t.Errorf("summary does not name the alarm: %s", res.Summary)
	}
}

func TestRollbackAlarmMissingChangesNothing(t *testing.T) {
	f := newAlarmFixture(t)
	f.src["c1"] = appRepo(1, "one", "https://one.example", rollbackEnvs)
	d := f.deployer(t, nil)
	_, err := f.deploy(t, d, "c1")
	if workflow.KindOf(err) != workflow.Invalid || !strings.Contains(err.Error(), "envs.dev.rollback.alarms") || !strings.Contains(err.Error(), "no alarm's name starts with dev-api-") {
		t.Fatalf("err = %v, want Invalid naming envs.dev.rollback.alarms and the prefix", err)
	}
	if m := mutations(f.srv.Calls()); len(m) > 0 {
		t.Errorf("calls that change something: %v", m)
	}
}

func TestRollbackAlarmsReadWithTheEnvsRole(t *testing.T) {
	f := newAlarmFixture(t)
	f.srv.PutAlarm("dev-api-5xx")
	f.src["c1"] = appRepo(1, "one", "https://one.example", rollbackEnvs)
	d := f.deployer(t, func(c *Config) {
		c.Envs["dev"] = EnvAWS{Region: "eu-west-1", AccountID: "111111111111", RoleARN: "arn:aws:iam::111111111111:role/deployer"}
	})
	if res, err := f.deploy(t, d, "c1"); err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("%v %s: %s", err, res.Status, res.Summary)
	}
	n := 0
	for _, c := range f.srv.Calls() {
		if c.Action == "DescribeAlarms" {
			n++
			if !strings.HasPrefix(c.AccessKey, "ASIA") {
				t.Errorf("DescribeAlarms signed with %s, not the env's assumed role", c.AccessKey)
			}
		}
	}
	if n == 0 {
		t.Error("no DescribeAlarms call")
	}
}

// The real SDK's CloudWatch client against cfntest: the CBOR protocol,
// prefixes, pages and errors.
func TestCloudWatchDescribeAlarms(t *testing.T) {
	srv := cfntest.New(cfntest.Options{Region: "eu-west-1"})
	t.Cleanup(srv.Close)
	for i := range 60 {
		srv.PutAlarm("dev-" + string(rune('a'+i/26)) + string(rune('a'+i%26)))
	}
	srv.PutAlarm("prod-x")
	srv.SetAlarmState("dev-ab", cfntest.AlarmAlarm, "Threshold Crossed: 1 datapoint")
	ctx := context.Background()
	cfg, err := srv.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cw := newCloudWatch(cfg)
	found, missing, err := findAlarms(ctx, cw, []string{"dev-*", "prod-x", "nope", "dev-ab"})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 61 || len(missing) != 1 || missing[0] != "nope" {
		t.Fatalf("found %d, missing %v; want 61 and [nope]", len(found), missing)
	}
	for _, a := range found {
		if a.Name == "dev-ab" && (a.State != "ALARM" || a.Reason != "Threshold Crossed: 1 datapoint" || a.ARN != srv.AlarmARN("dev-ab")) {
			t.Errorf("dev-ab: %+v", a)
		}
	}
	v := &verifier{cw: cw}
	if _, err := v.alarms(ctx, []string{"dev-a*"}); err == nil || !strings.Contains(err.Error(), "alarm dev-ab is ALARM: Threshold Crossed: 1 datapoint") {
		t.Errorf("alarm check: %v", err)
	}
	if got, err := v.alarms(ctx, []string{"prod-x"}); err != nil || !strings.Contains(got, "1 alarm(s) OK: prod-x") {
		t.Errorf("alarm check of an OK alarm: %q, %v", got, err)
	}
}

// newCloudWatch is the deployer's client, for tests of its parts.
func newCloudWatch(cfg aws.Config) cloudwatchAPI { return cloudwatchClient(cfg) }

// CloudWatch errors come back through the SDK with their code.
func TestCloudWatchErrors(t *testing.T) {
	srv := cfntest.New(cfntest.Options{Region: "eu-west-1"})
	t.Cleanup(srv.Close)
	ctx := context.Background()
	cfg, err := srv.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cloudwatch.NewFromConfig(cfg).DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"a"}, AlarmNamePrefix: aws.String("b")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterCombination" || !strings.Contains(ae.ErrorMessage(), "cannot be used together") {
		t.Errorf("err = %v, want InvalidParameterCombination", err)
	}
}
