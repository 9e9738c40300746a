package main

import (
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

const goodConfig = `
repo: {url: https://git.example.com/acme/infra.git, production_branch: master, release_prefix: release/, cache_dir: /tmp/cr}
slack: {announce_channel: C0123ABCD, approvals_channel: C0456EFGH}
jira: {url: https://acme.atlassian.net, email: bot@acme.com, projects: [OPS, JIRA], deny_status_categories: [done]}
redis: {url: redis://127.0.0.1:6379/0}
environments:
  - {name: dev, aws: {region: eu-west-1, account_id: "111111111111", role_arn: "arn:aws:iam::111111111111:role/deployer"}}
  - {name: stg, allowed: [S0DEVOPS]}
  - {name: prod, production: true, requires_env: stg, soak: 2h, approvals: {required: 1, approvers: [S0PRODAPPROVERS], allow_self: false, expire_after: 4h}}
`

func noEnv(string) string { return "" }

func TestParseConfig(t *testing.T) {
	c, err := parseConfig([]byte(goodConfig), func(k string) string {
		if k == "GIT_TOKEN" {
			return "ghp_secretsecretsecret"
		}
		return ""
	})
	if err != nil {
		t.Fatalf("parseConfig: %v", err)
	}
	if got, want := len(c.Environments), 3; got != want {
		t.Errorf("environments: got %d, want %d", got, want)
	}
	if c.GitToken == "" {
		t.Errorf("GIT_TOKEN from the environment was not read")
	}
	if s := c.String(); strings.Contains(s, "secret") {
		t.Errorf("String() shows the token: %s", s)
	}
	if got := c.workflowConfig().Envs[2]; !got.Production || got.RequiresEnv != "stg" || got.Soak != 2*time.Hour {
		t.Errorf("prod env: got %+v", got)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	base := "repo: {url: file:///tmp/r.git, cache_dir: /tmp/c}\n"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"bad env name", base + "environments: [{name: dev}, {name: Dev!}]", `environments[1].name: "Dev!" is not a valid env name`},
		{"duplicate env", base + "environments: [{name: dev}, {name: dev}]", `environments[1].name: "dev" is already environments[0]`},
		{"unknown field", base + "environments: [{name: dev, colour: red}]", "field colour not found"},
		{"unknown top-level field", base + "token: abc\nenvironments: [{name: dev}]", "field token not found"},
		{"token in file", "repo: {url: 'https://ghp_abcdefghijklmnop@git.example.com/r.git'}\nenvironments: [{name: dev}]", "repo.url: looks like a secret"},
		{"slack token in file", base + "slack: {announce_channel: xoxb-1234567890-abcdef}\nenvironments: [{name: dev}]", "slack.announce_channel: looks like a secret"},
		{"no url", "environments: [{name: dev}]", "repo.url: is required"},
		{"no envs", base, "environments: at least one env is required"},
		{"approvals on non-prod", base + "environments: [{name: dev}, {name: prod-eu, approvals: {required: 1, approvers: [U1]}}]", "environments[1].approvals: prod-eu is not a production env, and approvals apply only to production envs"},
		{"requires unknown", base + "environments: [{name: a, requires_env: zz}]", `environments[0].requires_env: "zz"`},
		{"soak on non-prod", base + "environments: [{name: a}, {name: b, requires_env: a, soak: 1h}]", "environments[1].soak: only a production env has a soak"},
		{"soak without requires_env", base + "environments: [{name: p, production: true, soak: 1h}]", "environments[0].soak: needs requires_env"},
		{"soak not a duration", base + "environments: [{name: p, production: true, requires_env: a, soak: two hours}]", "cannot unmarshal !!str `two hours` into time.Duration"},
		{"bad prefix", "repo: {url: file:///r, release_prefix: rel}\nenvironments: [{name: a}]", "repo.release_prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig([]byte(tc.yaml), noEnv)
			if err == nil {
				t.Fatalf("parseConfig: no error, want one containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error: got %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "ghp_abc") || strings.Contains(err.Error(), "xoxb-123") {
				t.Errorf("error shows the secret: %q", err)
			}
		})
	}
}

func TestSeveralProductionEnvs(t *testing.T) {
	c, err := parseConfig([]byte("repo: {url: file:///tmp/r.git, cache_dir: /tmp/c}\n"+
		"environments: [{name: stg}, {name: prod-us, production: true, approvals: {required: 1, approvers: [U1]}},"+
		" {name: prod-eu, production: true, requires_env: prod-us, approvals: {required: 1, approvers: [U2]}}]"), noEnv)
	if err != nil {
		t.Fatalf("two production envs: %v", err)
	}
	svc, err := workflow.NewService(nil, c.workflowConfig(), workflow.Deps{Repo: workflowtest.NewRepo(), Store: store.NewMemory(nil), Notifier: &workflowtest.Notifier{}})
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	for _, name := range []string{"prod-us", "prod-eu"} {
		env, err := svc.Env(name)
		if err != nil || !env.Production || env.Branch != "master" || env.Approvals.Required != 1 {
			t.Errorf("%s: %+v %v, want production on master with its approvals", name, env, err)
		}
	}
}

func TestParseFlags(t *testing.T) {
	pos, opts, err := parseFlags([]string{"JIRA-1", "--as", "alice", "dev", "--config=c.yml"}, []string{"as", "config"}, nil)
	if err != nil || strings.Join(pos, " ") != "JIRA-1 dev" || opts["as"] != "alice" || opts["config"] != "c.yml" {
		t.Errorf("got %v %v %v", pos, opts, err)
	}
	if _, _, err := parseFlags([]string{"-x", "dev"}, []string{"as"}, nil); err == nil {
		t.Errorf("-x: no error")
	}
	if pos, _, err := parseFlags([]string{"--", "-x", "dev"}, nil, nil); err != nil || pos[0] != "-x" {
		t.Errorf("after --: got %v %v", pos, err)
	}
}

func TestConfigExampleParses(t *testing.T) {
	if _, err := loadConfig("../../config.example.yml", ".", noEnv); err != nil {
		t.Fatalf("config.example.yml: %v", err)
	}
}
