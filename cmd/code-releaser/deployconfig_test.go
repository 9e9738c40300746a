package main

import (
	"strings"
	"testing"
)

func TestDeployConfigStepPolicyAndBucket(t *testing.T) {
	c, err := parseConfig([]byte(`
repo: {url: file:///tmp/r.git, cache_dir: /tmp/c}
environments:
  - name: dev
    aws:
      region: eu-west-1
      account_id: "111111111111"
      role_arn: "arn:aws:iam::111111111111:role/deployer"
      template_bucket: acme-cfn/code-releaser/
      step_credentials: none
      step_runner: [sudo, -n, -u, deployer, --]
  - {name: stg}
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	dc := c.deployConfig()
	dev, ok := dc.Envs["dev"]
	if !ok || len(dc.Envs) != 1 {
		t.Fatalf("envs with aws: %v", dc.Envs)
	}
	if dev.TemplateBucket != "acme-cfn/code-releaser/" || dev.Steps.Credentials != "none" || strings.Join(dev.Steps.Runner, " ") != "sudo -n -u deployer --" || dev.Steps.RunAs != nil {
		t.Errorf("dev: %+v", dev)
	}
	for _, tc := range []struct{ aws, want string }{
		{`step_credentials: all`, `environments[0].aws: step_credentials: "all" is not one of role, none, base`},
		{`template_bucket: "Bad_Bucket"`, `environments[0].aws: template_bucket: "Bad_Bucket" is not an S3 bucket name`},
		{`step_run_as: {uid: 0, gid: 0}`, `environments[0].aws: step_run_as: uid 0 is root`},
	} {
		_, err := parseConfig([]byte("repo: {url: file:///tmp/r.git, cache_dir: /tmp/c}\nenvironments:\n  - {name: dev, aws: {region: eu-west-1, account_id: \"111111111111\", "+tc.aws+"}}\n"), noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.aws, err, tc.want)
		}
	}
}
