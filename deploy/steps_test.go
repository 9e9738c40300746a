package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/code-releaser/code-releaser/workflow"
)

// commandRepo is a repo whose spec has only the given commands.
func commandRepo(commands string) fstest.MapFS {
	return fstest.MapFS{SpecFile: {Data: []byte("commands:\n" + commands)}}
}

// stepLines is what the step named name printed, one entry a line.
func (f *fixture) stepLines(name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.steps {
		if s.Name == name {
			out = append(out, s.Detail)
		}
	}
	return out
}

// keyLine is the AWS_ACCESS_KEY_ID a step printed with `echo key=...`.
func keyLine(lines []string) string {
	for _, l := range lines {
		if k, ok := strings.CutPrefix(l, "key="); ok {
			return k
		}
	}
	return "(not printed)"
}

func TestStepCredentials(t *testing.T) {
	step := `  - name: creds
    argv: [sh, -c, 'echo "key=$(printf %.4s "$AWS_ACCESS_KEY_ID")"; echo "meta=$AWS_EC2_METADATA_DISABLED"']
`
	// The key id's first four letters (the whole id is redacted): AKIA is
	// cfntest's static credentials, the bot's own; ASIA an assumed role's.
	for _, tc := range []struct {
		name      string
		env       EnvAWS
		wantKey   func(string) bool
		wantNote  string
		noteAbout string
	}{
		{"no role: none", EnvAWS{Region: "eu-west-1", AccountID: "111111111111"},
			func(k string) bool { return k == "" }, "the env has no role_arn", "says why"},
		{"role: the assumed one", EnvAWS{Region: "eu-west-1", AccountID: "111111111111", RoleARN: "arn:aws:iam::111111111111:role/deployer"},
			func(k string) bool { return k == "ASIA" }, "", ""},
		{"none: none even with a role", EnvAWS{Region: "eu-west-1", AccountID: "111111111111", RoleARN: "arn:aws:iam::111111111111:role/deployer", Steps: StepPolicy{Credentials: StepCredentialsNone}},
			func(k string) bool { return k == "" }, "step_credentials: none", "says so"},
		{"base when asked", EnvAWS{Region: "eu-west-1", AccountID: "111111111111", Steps: StepPolicy{Credentials: StepCredentialsBase}},
			func(k string) bool { return k == "AKIA" }, "step_credentials: base", "warns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.src["c1"] = commandRepo(step)
			res, err := f.deploy(t, f.deployer(t, func(c *Config) { c.Envs["dev"] = tc.env }), "c1")
			if err != nil || res.Status != workflow.DeploySucceeded {
				t.Fatalf("%v %s", err, res.Summary)
			}
			lines := f.stepLines("creds")
			if k := keyLine(lines); !tc.wantKey(k) {
				t.Errorf("the step got AWS_ACCESS_KEY_ID %q\n%s", k, strings.Join(lines, "\n"))
			}
			if !strings.Contains(strings.Join(lines, "\n"), "meta=true") {
				t.Errorf("AWS_EC2_METADATA_DISABLED not set:\n%s", strings.Join(lines, "\n"))
			}
			notes := 0
			for _, l := range lines {
				if tc.wantNote != "" && strings.Contains(l, tc.wantNote) {
					notes++
				}
			}
			if tc.wantNote != "" && notes != 1 {
				t.Errorf("the progress %s %d times, want once (%q):\n%s", tc.noteAbout, notes, tc.wantNote, strings.Join(lines, "\n"))
			}
		})
	}
}

func TestStepEnvironment(t *testing.T) {
	t.Setenv("CODE_RELEASER_TEST_SECRET", "bot-only-value")
	f := newFixture(t)
	f.src["c1"] = commandRepo(`  - name: env
    argv: [sh, -c, 'env | sort; touch "$HOME/h" "$TMPDIR/t"']
    env: {FROM_SPEC: yes}
`)
	work := t.TempDir()
	res, err := f.deploy(t, f.deployer(t, func(c *Config) { c.WorkDir = work }), "c1")
	if err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("%v %s", err, res.Summary)
	}
	vars := map[string]string{}
	for _, l := range f.stepLines("env") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.Contains(k, " ") {
			vars[k] = v
		}
	}
	botHome, _ := os.UserHomeDir()
	for _, k := range []string{"HOME", "TMPDIR"} {
		if !strings.HasPrefix(vars[k], work+string(filepath.Separator)) {
			t.Errorf("%s=%q is not inside the step's work dir %s", k, vars[k], work)
		}
		if botHome != "" && vars[k] == botHome {
			t.Errorf("%s is the bot's HOME", k)
		}
	}
	allowed := map[string]bool{"PATH": true, "LANG": true, "HOME": true, "TMPDIR": true, "FROM_SPEC": true, "PWD": true, "SHLVL": true, "_": true,
		"CODE_RELEASER_ENV": true, "CODE_RELEASER_SHA": true, "CODE_RELEASER_OUTPUTS": true,
		"AWS_REGION": true, "AWS_DEFAULT_REGION": true, "AWS_EC2_METADATA_DISABLED": true}
	for k := range vars {
		if !allowed[k] {
			t.Errorf("the step got %s=%q, which nobody chose for it", k, vars[k])
		}
	}
	if vars["FROM_SPEC"] != "yes" || vars["CODE_RELEASER_ENV"] != "dev" || vars["CODE_RELEASER_SHA"] != "c1" {
		t.Errorf("step variables: %v", vars)
	}
}

func TestStepRunner(t *testing.T) {
	f := newFixture(t)
	repo := commandRepo(`  - name: wrapped
    argv: [sh, -c, 'echo "inner in $(pwd)"']
    dir: scripts
`)
	repo["scripts/x"] = repo[SpecFile]
	f.src["c1"] = repo
	runner := []string{"sh", "-c", `echo "runner for $1 in {dir}"; exec "$@"`, "runner"}
	res, err := f.deploy(t, f.deployer(t, func(c *Config) {
		c.Envs["dev"] = EnvAWS{Region: "eu-west-1", AccountID: "111111111111", Steps: StepPolicy{Runner: runner}}
	}), "c1")
	if err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("%v %s", err, res.Summary)
	}
	text := strings.Join(f.stepLines("wrapped"), "\n")
	if !strings.Contains(text, "runner for sh in /") || !strings.Contains(text, "/scripts\ninner in /") {
		t.Errorf("the step did not run through the runner in its dir:\n%s", text)
	}
}

func TestStepPolicyValidation(t *testing.T) {
	a := EnvAWS{Region: "eu-west-1", AccountID: "111111111111", Steps: StepPolicy{Credentials: "all", Runner: []string{""}, RunAs: &RunAs{UID: 0}}}
	err := a.Validate()
	for _, want := range []string{"step_credentials: \"all\" is not one of role, none, base", "step_runner: the first element", "step_run_as: uid 0 is root"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
}
