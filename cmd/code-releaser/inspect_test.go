package main

import (
	"strings"
	"testing"
)

// TestDiffAndDrift: after two releases to dev and a hotfix on master, diff
// shows the env branch's tickets, each stack's commit from its tags (one
// deployed from the newest merge, one left unchanged since the first),
// and master's commit the env lacks; drift reports a resource changed
// outside CloudFormation.
func TestDiffAndDrift(t *testing.T) {
	srv, w, dir := deployWorld(t, "")
	release := func(ticket string, files map[string]string) {
		t.Helper()
		w.Checkout(t, "master")
		w.Branch(t, ticket, "master")
		w.Commit(t, ticket+": change", files)
		w.Push(t, ticket)
		if code, out, errs := runCLI(t, dir, nil, "release", ticket, "dev", "--as", "alice", "--config", "c.yml"); code != 0 {
			t.Fatalf("release %s: exit %d\n%s\n%s", ticket, code, out, errs)
		}
	}
	release("OPS-1", map[string]string{"net.yml": "Resources: {Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}}\nOutputs: {Id: {Value: !Ref Vpc, Export: {Name: !Sub \"${AWS::StackName}-id\"}}}\n"})
	release("OPS-2", map[string]string{"app.yml": "Resources: {Sg: {Type: AWS::EC2::SecurityGroup, Properties: {GroupDescription: two, VpcId: !ImportValue dev-net-id}}}\n"})
	w.Checkout(t, "master")
	w.Commit(t, "OPS-9: hotfix straight to master", map[string]string{"README": "x\n"})
	w.Push(t, "master")

	code, out, errs := runCLI(t, dir, nil, "diff", "dev", "--config", "c.yml")
	t.Logf("diff:\n%s", out)
	if code != 0 {
		t.Fatalf("diff: exit %d\n%s\n%s", code, out, errs)
	}
	lines := strings.Split(out, "\n")
	line := func(prefix string) string {
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), prefix) {
				return l
			}
		}
		t.Errorf("no line for %s in:\n%s", prefix, out)
		return ""
	}
	for prefix, want := range map[string][]string{
		"release/dev": {"tickets: OPS-1, OPS-2"},
		"master":      {"1 commit(s) not in release/dev, naming OPS-9"},
		"dev-app":     {"= release/dev", "UPDATE_COMPLETE"},
		"dev-net":     {"up to date with release/dev (unchanged since this commit)"},
	} {
		l := line(prefix)
		for _, w := range want {
			if !strings.Contains(l, w) {
				t.Errorf("%s line %q lacks %q\n%s", prefix, l, w, out)
			}
		}
	}

	if err := srv.DriftResource("dev-net", "Vpc", "MODIFIED", "/Properties/CidrBlock", "10.0.0.0/16", "10.9.0.0/16"); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCLI(t, dir, nil, "drift", "dev", "--config", "c.yml")
	if code != 0 {
		t.Fatalf("drift: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"dev: 1 of 2 stack(s) drifted", "dev-net: DRIFTED, 1 resource(s) changed outside CloudFormation", "Vpc (AWS::EC2::VPC, ", ") MODIFIED", "/Properties/CidrBlock: expected 10.0.0.0/16, actual 10.9.0.0/16", "dev-app: IN_SYNC"} {
		if !strings.Contains(out, want) {
			t.Errorf("drift output lacks %q:\n%s", want, out)
		}
	}
	if code, _, errs := runCLI(t, dir, nil, "drift", "qa", "--config", "c.yml"); code != 2 || !strings.Contains(errs, `"qa"`) {
		t.Errorf("drift qa: exit %d: %s", code, errs)
	}
}
