package deploy

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/code-releaser/code-releaser/workflow"
)

// health is an HTTP server answering /health with the statuses given in
// turn (the last one from then on), counting the calls.
func health(t *testing.T, statuses ...int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		i := int(n.Add(1)) - 1
		w.WriteHeader(statuses[min(i, len(statuses)-1)])
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func stepNames(steps []workflow.Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Name)
	}
	return out
}

func TestVerifyHTTPProbe(t *testing.T) {
	const envs = `envs:
  dev:
    verify:
      - name: health
        http: {output: app.Url, path: /health, status: 200, retries: 3, interval: 10ms, deadline: 10s}
`
	for _, tc := range []struct {
		name       string
		statuses   []int
		wantStatus workflow.DeployStatus
		wantTries  int32
		wantText   string
	}{
		{"up at once", []int{200}, workflow.DeploySucceeded, 1, "1 check(s) verified"},
		{"up on the third try", []int{503, 502, 200}, workflow.DeploySucceeded, 3, "1 check(s) verified"},
		{"never up", []int{503}, workflow.DeployFailed, 4, "verification health failed: GET %s/health: want 200, answered 503 Service Unavailable after 4 tries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAlarmFixture(t)
			srv, n := health(t, tc.statuses...)
			f.src["c1"] = appRepo(1, "one", srv.URL, envs)
			res, err := f.deploy(t, f.deployer(t, nil), "c1")
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.wantStatus || !strings.Contains(res.Summary, strings.ReplaceAll(tc.wantText, "%s", srv.URL)) {
				t.Errorf("got %s: %s\nwant %s with %q", res.Status, res.Summary, tc.wantStatus, tc.wantText)
			}
			if got := n.Load(); got != tc.wantTries {
				t.Errorf("%d requests, want %d", got, tc.wantTries)
			}
			names := strings.Join(stepNames(f.steps), ",")
			want := workflow.StepVerifying + ",verify:health," + workflow.StepVerified
			if tc.wantStatus == workflow.DeployFailed {
				want = workflow.StepVerifying + ",verify:health," + workflow.StepVerifyFailed
			}
			if !strings.HasSuffix(names, want) {
				t.Errorf("steps %s, want them to end with %s", names, want)
			}
		})
	}
}

func TestVerifyNotRunWhenTheDeployFailed(t *testing.T) {
	f := newAlarmFixture(t)
	srv, n := health(t, 200)
	f.src["c1"] = appRepo(1, "one", srv.URL, "envs:\n  dev:\n    verify:\n      - {name: health, http: {output: app.Url, path: /health}}\n")
	f.srv.FailResource("dev-app", "TopicA", "create", "simulated: no capacity")
	res, err := f.deploy(t, f.deployer(t, nil), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workflow.DeployFailed || n.Load() != 0 {
		t.Errorf("status %s, %d probes; want failed, none", res.Status, n.Load())
	}
	for _, s := range f.steps {
		if s.Name == workflow.StepVerifying {
			t.Errorf("verification ran after a failed deploy: %+v", s)
		}
	}
}

func TestVerifyAlarmsAndCommand(t *testing.T) {
	const envs = `envs:
  dev:
    verify:
      - name: alarms
        alarms: ["{env}-api-*", "{env}-db-cpu"]
      - name: smoke
        command: {argv: [sh, -c, 'test "$STACK_APP_URL" = https://one.example && echo smoke ok']}
`
	f := newAlarmFixture(t)
	f.srv.PutAlarm("dev-api-5xx")
	f.srv.PutAlarm("dev-api-latency")
	f.srv.PutAlarm("dev-db-cpu")
	f.src["c1"] = appRepo(1, "one", "https://one.example", envs)
	d := f.deployer(t, func(c *Config) {
		c.Envs["dev"] = EnvAWS{Region: "eu-west-1", AccountID: "111111111111", RoleARN: "arn:aws:iam::111111111111:role/deployer"}
	})
	res, err := f.deploy(t, d, "c1")
	if err != nil || res.Status != workflow.DeploySucceeded || !strings.Contains(res.Summary, "2 check(s) verified") {
		t.Fatalf("%v %s: %s", err, res.Status, res.Summary)
	}
	if got := strings.Join(f.stepLines("smoke"), "|"); !strings.Contains(got, "smoke ok") {
		t.Errorf("the smoke command's output: %s", got)
	}
	for _, c := range f.srv.Calls() {
		if c.Action == "DescribeAlarms" && !strings.HasPrefix(c.AccessKey, "ASIA") {
			t.Errorf("DescribeAlarms signed with %s, not the env's assumed role", c.AccessKey)
		}
	}

	// An alarm firing, and one gone: the deploy fails saying which and why.
	f.srv.SetAlarmState("dev-api-latency", "ALARM", "Threshold Crossed: p99 > 2s")
	f.src["c2"] = appRepo(1, "one", "https://one.example", strings.Replace(envs, "{env}-db-cpu", "{env}-db-mem", 1))
	res, err = f.deploy(t, d, "c2")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workflow.DeployFailed {
		t.Fatalf("status %s: %s", res.Status, res.Summary)
	}
	for _, want := range []string{"verification alarms failed", "alarm dev-api-latency is ALARM: Threshold Crossed: p99 > 2s", "no alarm is named dev-db-mem"} {
		if !strings.Contains(res.Summary, want) {
			t.Errorf("summary %q does not say %q", res.Summary, want)
		}
	}
}

// A spec whose envs section names an env the bot does not deploy (a typo)
// says so in the deploy's progress: its checks would never run.
func TestVerifyUnknownEnvWarns(t *testing.T) {
	f := newAlarmFixture(t)
	f.src["c1"] = appRepo(1, "one", "https://one.example", "envs:\n  dve:\n    verify:\n      - {name: x, alarms: [a]}\n")
	if res, err := f.deploy(t, f.deployer(t, nil), "c1"); err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("%v %s: %s", err, res.Status, res.Summary)
	}
	if got := strings.Join(f.stepLines(SpecFile), "\n"); !strings.Contains(got, "warning: its envs section names dve, which the bot does not deploy (its envs with aws settings: dev)") {
		t.Errorf("no warning about dve: %q", got)
	}
}

func TestVerifySpecErrors(t *testing.T) {
	for _, tc := range []struct{ envs, want string }{
		{"envs:\n  dev:\n    verfy: []\n", "envs.dev.verfy: unknown field (want rollback, verify)"},
		{"envs:\n  dev:\n    rollback: {monitoring: 90s}\n", "envs.dev.rollback.monitoring: CloudFormation monitors in whole minutes"},
		{"envs:\n  dev:\n    rollback: {alarms: [a, b, c, d, e, f]}\n", "at most 5 rollback triggers; 6 given"},
		{"envs:\n  dev:\n    rollback: {alarms: [\"a*b\"]}\n", "only a trailing * (a name prefix) is allowed"},
		{"envs:\n  dev:\n    verify:\n      - {name: x}\n", "envs.dev.verify[0]: give exactly one of http, alarms, command"},
		{"envs:\n  dev:\n    verify:\n      - {name: x, http: {output: web.Url}}\n", `envs.dev.verify[0].http.output: "web" is not a stack of this file`},
		{"envs:\n  dev:\n    verify:\n      - {name: x, http: {url: \"ftp://h/\"}}\n", `is not an http(s) URL`},
		{"envs:\n  dev:\n    verify:\n      - {name: x, http: {output: app.Url, status: 999}}\n", `"999" is not a whole number from 100 to 599`},
		{"envs:\n  dev:\n    verify:\n      - {name: x, command: {argv: [true], env: {AWS_X: y}}}\n", `"AWS_X" is set by the bot`},
	} {
		_, err := ParseSpec(SpecFile, appRepo(1, "one", "u", tc.envs)[SpecFile].Data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.envs, err, tc.want)
		}
	}
}

// TestAnsibleReceivesOutputs runs a real ansible-playbook as a command
// step, against localhost with connection: local: it gets the stack
// outputs as extra vars (--extra-vars "@{outputs}") and as environment
// variables, and writes what it got to a file.
func TestAnsibleReceivesOutputs(t *testing.T) {
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ansible-playbook is missing; .ci/run installs Debian's ansible-core")
		}
		t.Skip("ansible-playbook is not installed (Debian package ansible-core)")
	}
	out := t.TempDir()
	f := newAlarmFixture(t)
	repo := appRepo(1, "one", "https://app.dev.example", "")
	repo[SpecFile].Data = append(repo[SpecFile].Data, []byte(`commands:
  - name: site
    argv: [ansible-playbook, -i, "localhost,", playbooks/site.yml, --extra-vars, "@{outputs}", --extra-vars, "target_env={env}"]
    env: {OUT_DIR: "`+out+`", ANSIBLE_NOCOLOR: "1"}
    timeout: 2m
`)...)
	repo["playbooks/site.yml"] = &fstest.MapFile{Data: []byte(`- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: write what the deploy gave us
      ansible.builtin.copy:
        dest: "{{ lookup('env', 'OUT_DIR') }}/app.conf"
        content: |
          url={{ app.outputs.Url }}
          stack={{ app.stack_name }}
          env={{ target_env }}
          from_env={{ lookup('env', 'STACK_APP_URL') }}
          sha={{ lookup('env', 'CODE_RELEASER_SHA') }}
`)}
	f.src["c1"] = repo
	res, err := f.deploy(t, f.deployer(t, nil), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workflow.DeploySucceeded {
		t.Fatalf("status %s: %s\nsite: %s", res.Status, res.Summary, strings.Join(f.stepLines("site"), "\n"))
	}
	got, err := os.ReadFile(filepath.Join(out, "app.conf"))
	if err != nil {
		t.Fatalf("the playbook wrote nothing: %v\n%s", err, strings.Join(f.stepLines("site"), "\n"))
	}
	want := "url=https://app.dev.example\nstack=dev-app\nenv=dev\nfrom_env=https://app.dev.example\nsha=c1\n"
	if string(got) != want {
		t.Errorf("app.conf:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(strings.Join(f.stepLines("site"), "\n"), "changed=1") {
		t.Errorf("the play recap is not in the step's output:\n%s", strings.Join(f.stepLines("site"), "\n"))
	}
}

// A failed command check's one-line reason ends with what the command said
// last, not with a dangling "last output:".
func TestFirstLineKeepsTheLastOutput(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"command exit status 1 after 6ms; last output:\nstarting\napp/status is starting, want ready\n", "command exit status 1 after 6ms; last output: app/status is starting, want ready"},
		{"want 200, answered 502\nbody ignored", "want 200, answered 502"},
		{"exit status 2 after 1s; last output:\n\n", "exit status 2 after 1s"},
	} {
		if got := firstLine(tc.in); got != tc.want {
			t.Errorf("firstLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
