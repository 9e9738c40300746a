package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/deploy/cfntest"
	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
)

// TestDeployCommand runs `deploy` against the simulator through the SDK's
// default chain (AWS_ENDPOINT_URL and static keys from the environment).
func TestDeployCommand(t *testing.T) {
	gittest.RequireGit(t)
	srv := cfntest.New(cfntest.Options{Account: "111111111111", Region: "eu-west-1", ResourceDelay: 5 * time.Millisecond})
	t.Cleanup(srv.Close)
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": srv.URL, "AWS_ACCESS_KEY_ID": "AKIACLITEST00000000", "AWS_SECRET_ACCESS_KEY": "cli-test-secret",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_MAX_ATTEMPTS": "1", "AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
	r := gittest.NewRemote(t, "", "infra")
	w := r.Clone(t)
	w.Commit(t, "infra", map[string]string{
		"code-releaser.yml": "stacks:\n  net: {name: \"{env}-net\", template: net.yml}\n  app: {name: \"{env}-app\", template: app.yml}\n",
		"net.yml":           "Resources: {Vpc: {Type: AWS::EC2::VPC}}\nOutputs: {Id: {Value: !Ref Vpc, Export: {Name: !Sub \"${AWS::StackName}-id\"}}}\n",
		"app.yml":           "Resources: {Sg: {Type: AWS::EC2::SecurityGroup, Properties: {VpcId: !ImportValue dev-net-id}}}\n",
	})
	w.Push(t, "master")
	w.Push(t, "master:release/dev")
	dir := t.TempDir()
	cfg := "repo: {url: " + r.URL() + ", cache_dir: " + filepath.Join(dir, "cache") + "}\n" +
		"environments:\n  - {name: dev, aws: {region: eu-west-1, account_id: \"111111111111\"}}\n" +
		"  - {name: stg, aws: {region: eu-west-1, account_id: \"222222222222\"}}\n  - {name: prod, production: true}\n"
	if err := os.WriteFile(filepath.Join(dir, "c.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, dir, nil, "deploy", "dev", "--plan", "--config", "c.yml")
	// app's changes cannot be listed before net exists: its import is missing.
	if code != 0 || !strings.Contains(out, "plan: 2 stacks: 2 create; 1 resource change") || !strings.Contains(out, "once dev-net is deployed") {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCLI(t, dir, nil, "deploy", "dev", "--config", "c.yml")
	if code != 0 || !strings.Contains(out, "succeeded: 2 created") {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runCLI(t, dir, nil, "deploy", "dev", "--ref", "master", "--config", "c.yml")
	if code != 0 || !strings.Contains(out, "2 unchanged") {
		t.Errorf("redeploy: exit %d\n%s", code, out)
	}
	// A property that requires replacement: the plan says so and leaves
	// no change set behind.
	w.Commit(t, "vpc cidr", map[string]string{"net.yml": "Resources: {Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.1.0.0/16}}}\nOutputs: {Id: {Value: !Ref Vpc, Export: {Name: !Sub \"${AWS::StackName}-id\"}}}\n"})
	w.Push(t, "master:release/dev")
	srv.Wait()
	before := len(srv.ChangeSets())
	code, out, errs = runCLI(t, dir, nil, "deploy", "dev", "--plan", "--config", "c.yml")
	if code != 0 || !strings.Contains(out, "!! Modify  Vpc (AWS::EC2::VPC)  REPLACEMENT") || !strings.Contains(out, "1 replacement") {
		t.Errorf("plan of a replacement: exit %d\n%s\n%s", code, out, errs)
	}
	if n := len(srv.ChangeSets()); n != before {
		t.Errorf("the plan left change sets: %v", srv.ChangeSets())
	}
	code, _, errs = runCLI(t, dir, nil, "deploy", "stg", "--ref", "master", "--config", "c.yml")
	if code != 2 || !strings.Contains(errs, "the credentials reach AWS account 111111111111") {
		t.Errorf("guard: exit %d: %s", code, errs)
	}
	code, _, errs = runCLI(t, dir, nil, "deploy", "prod", "--config", "c.yml")
	if code != 2 || !strings.Contains(errs, "no aws settings") {
		t.Errorf("prod without aws: exit %d: %s", code, errs)
	}
}
