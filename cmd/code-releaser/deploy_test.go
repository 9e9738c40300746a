package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/deploy/cfntest"
	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/store/redistest"
	"github.com/code-releaser/code-releaser/workflow"
)

// TestDeployCommand runs `deploy` against the simulator through the SDK's
// default chain (AWS_ENDPOINT_URL and static keys from the environment).
func TestDeployCommand(t *testing.T) {
	srv, w, dir := deployWorld(t, "  - {name: stg, aws: {region: eu-west-1, account_id: \"222222222222\"}}\n  - {name: prod, production: true}\n")
	code, out, errs := runCLI(t, dir, nil, "deploy", "dev", "--plan", "--config", "c.yml")
	// app's changes cannot be listed before net exists: its import is missing.
	if code != 0 || !strings.Contains(out, "plan: 2 stacks: 2 create; 1 resource change") || !strings.Contains(out, "once dev-net is deployed") {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCLI(t, dir, nil, "deploy", "dev", "--as", "alice", "--config", "c.yml")
	if code != 0 || !strings.Contains(out, "succeeded: 2 created") {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runCLI(t, dir, nil, "deploy", "dev", "--ref", "master", "--as", "alice", "--config", "c.yml")
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
	code, _, errs = runCLI(t, dir, nil, "deploy", "stg", "--ref", "master", "--as", "alice", "--config", "c.yml")
	if code != 2 || !strings.Contains(errs, "the credentials reach AWS account 111111111111") {
		t.Errorf("guard: exit %d: %s", code, errs)
	}
	code, _, errs = runCLI(t, dir, nil, "deploy", "prod", "--as", "alice", "--config", "c.yml")
	if code != 2 || !strings.Contains(errs, "no aws settings") {
		t.Errorf("prod without aws: exit %d: %s", code, errs)
	}
}

// deployWorld is the simulator (account 111111111111) reached through the
// SDK's default chain, a remote whose master and release/dev hold two
// stacks, and c.yml in dir with dev (on the simulator's account) and the
// envs of more (YAML list items), plus extra top-level YAML.
func deployWorld(t *testing.T, more string, extra ...string) (*cfntest.Server, *gittest.Work, string) {
	t.Helper()
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
	cfg := "repo: {url: " + r.URL() + ", cache_dir: " + filepath.Join(dir, "cache") + "}\n" + strings.Join(extra, "") +
		"environments:\n  - {name: dev, aws: {region: eu-west-1, account_id: \"111111111111\"}}\n" + more
	if err := os.WriteFile(filepath.Join(dir, "c.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, w, dir
}

// TestDeployTakesTheReleasePath: deploy cannot get around a production
// env's rules (the production branch only; approvals through a release)
// and, with the bot's Redis, waits for no one: it takes the env's lease,
// is refused while a release holds it, and is recorded with who asked.
func TestDeployTakesTheReleasePath(t *testing.T) {
	rs := redistest.Dedicated(t, redistest.Options{})
	aws := `aws: {region: eu-west-1, account_id: "111111111111"}`
	prefix := redistest.Prefix(t) + ":"
	_, w, dir := deployWorld(t,
		"  - {name: prod, production: true, "+aws+"}\n"+
			"  - {name: prod-eu, production: true, "+aws+", approvals: {required: 1, approvers: [U0BEN]}}\n",
		"redis: {url: \"redis://"+rs.Addr+"/0\", prefix: \""+prefix+"\"}\n")
	master := w.Head(t)
	w.Branch(t, "OPS-1", "master")
	w.Commit(t, "OPS-1: not reviewed", map[string]string{"net.yml": "Resources: {Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.9.0.0/16}}}\n"})
	w.Push(t, "OPS-1")
	ticket := w.Head(t)

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no --as", []string{"deploy", "prod"}, 2, "--as USER is required"},
		{"ticket branch to prod", []string{"deploy", "prod", "--ref", "OPS-1", "--as", "mallory"}, 2, "prod deploys master only, and " + ticket[:7] + " is not its tip"},
		{"ticket SHA to prod", []string{"deploy", "prod", "--ref", ticket, "--as", "mallory"}, 2, "is not its tip"},
		{"ticket plan on prod", []string{"deploy", "prod", "--ref", "OPS-1", "--plan"}, 2, "prod deploys master only"},
		{"env with approvals", []string{"deploy", "prod-eu", "--as", "mallory"}, 2, "prod-eu deploys only what 1 of its approvers approved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, dir, nil, append(tc.args, "--config", "c.yml")...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q\n%s", code, errs, tc.code, tc.want, out)
			}
		})
	}

	ctx := t.Context()
	st, err := store.DialRedis(ctx, "redis://"+rs.Addr+"/0", "", store.RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, env := range []string{"prod", "prod-eu"} {
		if _, ok, err := st.LastDeploy(ctx, env); err != nil || ok {
			t.Errorf("%s has a last deploy after refusals (%v)", env, err)
		}
	}

	// A release holds dev's lease: deploy refuses, changing nothing.
	l, ok, err := st.AcquireLease(ctx, "dev", workflow.Lease{Token: "release-r1/x", ReleaseID: "r1", Ticket: "OPS-2", By: "bob"}, time.Minute)
	if err != nil || !ok {
		t.Fatalf("take dev's lease: %v %v", ok, err)
	}
	code, _, errs := runCLI(t, dir, nil, "deploy", "dev", "--as", "alice", "--config", "c.yml")
	if code != 1 || !strings.Contains(errs, "dev is busy with the release of OPS-2 by bob") {
		t.Errorf("deploy during a release: exit %d, %q", code, errs)
	}
	if _, ok, _ := st.LastDeploy(ctx, "dev"); ok {
		t.Error("dev was deployed while a release held it")
	}
	if _, err := st.ReleaseLease(ctx, "dev", l.Token); err != nil {
		t.Fatal(err)
	}

	// Free again: dev deploys (and exports what prod's app imports).
	if code, out, errs := runCLI(t, dir, nil, "deploy", "dev", "--as", "alice", "--config", "c.yml"); code != 0 {
		t.Fatalf("deploy of dev once free: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs := runCLI(t, dir, nil, "deploy", "prod", "--ref", "master", "--as", "alice", "--config", "c.yml")
	if code != 0 || !strings.Contains(out, "deploying master ("+master[:7]+") to prod as alice") || !strings.Contains(out, "succeeded") {
		t.Fatalf("deploy of master to prod: exit %d\n%s\n%s", code, out, errs)
	}
	last, ok, err := st.LastDeploy(ctx, "prod")
	if err != nil || !ok || last.By != "alice" || last.Result.SHA != master {
		t.Errorf("prod's last deploy: %+v %v %v; want master by alice", last, ok, err)
	}
	if cur, held, _ := st.CurrentLease(ctx, "prod"); held {
		t.Errorf("prod's lease is still held after the deploy: %+v", cur)
	}
	evs, err := st.Events(ctx, "prod", 0)
	if err != nil || len(evs) == 0 || evs[0].Action != workflow.ActionDeployed || evs[0].Actor != "alice" || !strings.Contains(evs[0].Detail, "deploy of master by alice") {
		t.Errorf("prod's history: %+v %v; want alice's deploy first", evs, err)
	}

	// The trail of who did what to whom, in the CLI's history too.
	for _, args := range [][]string{
		{"hold", "dev", "testing", "payments", "--as", "bob"},
		{"hold", "dev", "my", "turn", "--as", "alice"},
		{"reset", "dev", "--as", "carol"},
	} {
		if code, out, errs := runCLI(t, dir, nil, append(args, "--config", "c.yml")...); code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errs)
		}
	}
	code, out, errs = runCLI(t, dir, nil, "history", "dev", "5", "--config", "c.yml")
	for _, want := range []string{
		"(history from the store",
		"env.reset            @carol",
		"carol reset release/dev := master@" + master[:7],
		"env.held             @alice — my turn; replaced the hold of bob (testing payments) [via the terminal, --as alice not verified]",
		"(history from git",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("history: exit %d, lacks %q\n%s\n%s", code, want, out, errs)
		}
	}
	code, out, _ = runCLI(t, dir, nil, "history", "prod", "--config", "c.yml")
	if code != 0 || !strings.Contains(out, "deploy               @alice "+master[:7]+" — deploy of master by alice [via the terminal") {
		t.Errorf("prod's CLI history: exit %d\n%s", code, out)
	}
}
