package deploy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const goodSpec = `version: 1
stacks:
  network:
    name: "{env}-network"
    template: stacks/network.yml
    parameters: {Env: "{env}"}
    env_parameters:
      prod: {VpcCidr: 10.1.0.0/16}
    tags: {team: platform}
  app:
    name: "{env}-app"
    template: stacks/app.json
    parameter_file: params/{env}/app.json
    capabilities: [CAPABILITY_IAM]
    envs: [dev, prod]
commands:
  - name: site
    argv: [ansible-playbook, -i, "inventories/{env}", site.yml]
    timeout: 5m
    after: [app]
`

func TestParseSpec(t *testing.T) {
	s, err := ParseSpec(SpecFile, []byte(goodSpec))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(s.Stacks), 2; got != want {
		t.Fatalf("stacks: got %d, want %d", got, want)
	}
	net := s.Stacks[0]
	if diff := cmp.Diff(StackSpec{
		ID: "network", Name: "{env}-network", Template: "stacks/network.yml",
		Parameters: map[string]string{"Env": "{env}"}, EnvParameters: map[string]map[string]string{"prod": {"VpcCidr": "10.1.0.0/16"}},
		Tags: map[string]string{"team": "platform"}, Line: 3,
	}, net); diff != "" {
		t.Errorf("network (-want +got):\n%s", diff)
	}
	c := s.Commands[0]
	if c.Name != "site" || c.Timeout != 5*time.Minute || !cmp.Equal(c.After, []string{"app"}) || c.Line != 17 {
		t.Errorf("command: %+v", c)
	}
}

func TestParseSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		want       []string // substrings, each must appear
	}{
		{"not yaml", "stacks: [\n", []string{"code-releaser.yml:1: not valid YAML"}},
		{"tab", "stacks:\n\ta: 1\n", []string{"code-releaser.yml:2: not valid YAML"}},
		{"empty", "", []string{"code-releaser.yml: the file is empty"}},
		{"unknown top", "stack: {}\n", []string{"code-releaser.yml:1: stack: unknown field"}},
		{"missing template", "stacks:\n  a:\n    name: x-{env}\n", []string{"code-releaser.yml:2: stacks.a.template: is required"}},
		{"bad name", "stacks:\n  a:\n    name: \"{env}_a\"\n    template: a.yml\n", []string{"code-releaser.yml:3: stacks.a.name: stack name \"env_a\" is invalid"}},
		{"placeholder", "stacks:\n  a:\n    name: \"{stage}-a\"\n    template: a.yml\n", []string{"code-releaser.yml:3: stacks.a.name: unknown placeholder {stage}"}},
		{"capability", "stacks:\n  a:\n    name: a\n    template: a.yml\n    capabilities: [IAM]\n", []string{"code-releaser.yml:5: stacks.a.capabilities: \"IAM\" is not a capability"}},
		{"depends_on", "stacks:\n  a:\n    name: a\n    template: a.yml\n    depends_on: [b]\n", []string{"code-releaser.yml:2: stacks.a.depends_on: \"b\" is not a stack"}},
		{"dup key", "stacks:\n  a:\n    name: a\n    name: b\n    template: a.yml\n", []string{"code-releaser.yml:4: stacks.a.name: given twice"}},
		{"path", "stacks:\n  a:\n    name: a\n    template: ../a.yml\n", []string{"code-releaser.yml:4: stacks.a.template: \"../a.yml\" must be a clean path"}},
		{"command", "commands:\n  - name: x\n    argv: ansible\n    timeout: forever\n    env: {AWS_REGION: x}\n", []string{
			"code-releaser.yml:3: commands[0].argv: must be a list",
			"code-releaser.yml:4: commands[0].timeout: \"forever\" is not a duration",
			"code-releaser.yml:5: commands[0].env: \"AWS_REGION\" is set by the bot",
		}},
		{"step env", "commands:\n  - name: x\n    argv: [x]\n    env: {LD_PRELOAD: /tmp/x.so, HOME: /root}\n", []string{
			"code-releaser.yml:4: commands[0].env: \"HOME\" is set by the bot",
			"code-releaser.yml:4: commands[0].env: \"LD_PRELOAD\" would change how programs load",
		}},
		{"after", "stacks:\n  a: {name: a, template: a.yml}\ncommands:\n  - {name: x, argv: [x], after: [b]}\n", []string{"code-releaser.yml:4: commands[0].after: \"b\" is not a stack"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec(SpecFile, []byte(tc.spec))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			var se *SpecError
			if !errors.As(err, &se) {
				t.Errorf("error %T is not a *SpecError", err)
			}
		})
	}
}
