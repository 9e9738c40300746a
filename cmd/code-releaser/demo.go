package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/code-releaser/code-releaser/deploy/cfntest"
	"github.com/code-releaser/code-releaser/workflow"
)

// The sample infra repo of the demo.
const (
	demoNetwork = `AWSTemplateFormatVersion: "2010-09-09"
Description: VPC and subnets
Parameters:
  Env:
    Type: String
  VpcCidr:
    Type: String
    Default: 10.0.0.0/16
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: !Ref VpcCidr
      EnableDnsSupport: true
  PublicSubnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.0.1.0/24
Outputs:
  VpcId:
    Value: !Ref Vpc
    Export:
      Name: !Sub "${Env}-network-VpcId"
`
	demoApp = `AWSTemplateFormatVersion: "2010-09-09"
Description: application servers
Parameters:
  Env:
    Type: String
Resources:
  AppSecurityGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: app
      VpcId:
        Fn::ImportValue: !Sub "${Env}-network-VpcId"
`
	// demoSpec tells Code-Releaser what to deploy: the app stack imports
	// the network stack's export, so network deploys first.
	demoSpec = `stacks:
  network:
    name: "{env}-network"
    template: stacks/network.yml
    parameters: {Env: "{env}"}
  app:
    name: "{env}-app"
    template: stacks/app.yml
    parameters: {Env: "{env}"}
`
	// demoSmokeSpec and demoSmoke: JIRA-4's check of dev after a deploy.
	demoSmokeSpec = `envs:
  dev:
    verify:
      - name: smoke
        command: {argv: [sh, smoke.sh]}
`
	demoSmoke = `#!/bin/sh
# dev is up when the app says ready
status=$(cat app/status)
[ "$status" = ready ] || { echo "app/status is $status, want ready" >&2; exit 1; }
`
	demoPlaybook = `- hosts: app
  become: true
  tasks:
    - name: install nginx
      ansible.builtin.package:
        name: nginx
        state: present
`
)

// runDemo is `demo [--keep]`: the seed's story on a sample repo, through
// the real workflow, git mirror and in-memory store.
func runDemo(ctx context.Context, e *env, args []string) error {
	pos, opts, err := parseFlags(args, []string{"dir"}, []string{"keep"})
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{"demo takes no arguments"}
	}
	dir, err := os.MkdirTemp(opts["dir"], "code-releaser-demo-")
	if err != nil {
		return err
	}
	if opts["keep"] != "" {
		defer fmt.Fprintf(e.stdout, "\nkept the demo's files in %s (remote: %s)\n", dir, filepath.Join(dir, "remote.git"))
	} else {
		defer os.RemoveAll(dir)
	}
	if err := playDemo(ctx, e, dir); err != nil {
		fmt.Fprintf(e.stdout, "\ndemo: FAILED: %v\n", err)
		return exitError{1}
	}
	fmt.Fprintln(e.stdout, "\ndemo: the story played as expected")
	return nil
}

// demoGit runs git in dir, isolated from the user's and system's config.
func demoGit(ctx context.Context, dir string, args ...string) (string, error) {
	full := append([]string{
		"-c", "user.name=Demo", "-c", "user.email=demo@example.com",
		"-c", "init.defaultBranch=master", "-c", "commit.gpgsign=false",
	}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// buildDemoRemote makes the bare remote with master and the three ticket
// branches; it returns the work tree it used.
func buildDemoRemote(ctx context.Context, dir string) (remote, work string, err error) {
	remote = filepath.Join(dir, "remote.git")
	work = filepath.Join(dir, "work")
	var steps [][]string
	g := func(args ...string) { steps = append(steps, args) }
	write := func(files map[string]string) error {
		for p, body := range files {
			full := filepath.Join(work, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := demoGit(ctx, dir, "init", "-q", "--bare", remote); err != nil {
		return "", "", err
	}
	if _, err := demoGit(ctx, dir, "init", "-q", work); err != nil {
		return "", "", err
	}
	branch := func(name, msg string, files map[string]string) error {
		if _, err := demoGit(ctx, work, "checkout", "-q", "-B", name, "master"); err != nil {
			return err
		}
		if err := write(files); err != nil {
			return err
		}
		_, err := demoGit(ctx, work, "commit", "-q", "-am", msg)
		return err
	}
	if err := write(map[string]string{
		"stacks/network.yml": demoNetwork, "stacks/app.yml": demoApp, "playbooks/site.yml": demoPlaybook,
		"code-releaser.yml": demoSpec,
		"README.md":         "# acme infra\n",
	}); err != nil {
		return "", "", err
	}
	g("add", "-A")
	g("commit", "-q", "-m", "Initial infra: network and app stacks, site playbook")
	for _, s := range steps {
		if _, err := demoGit(ctx, work, s...); err != nil {
			return "", "", err
		}
	}
	for _, b := range []struct{ name, msg, path, old, new string }{
		{"JIRA-1", "JIRA-1: widen the VPC", "stacks/network.yml", "Default: 10.0.0.0/16", "Default: 10.0.0.0/15"},
		{"JIRA-2", "JIRA-2: install nginx from the mainline repo", "playbooks/site.yml", "state: present", "state: latest"},
		{"JIRA-3", "JIRA-3: move the VPC", "stacks/network.yml", "Default: 10.0.0.0/16", "Default: 172.16.0.0/16"},
	} {
		body, err := os.ReadFile(filepath.Join(work, b.path))
		if err != nil {
			return "", "", err
		}
		if err := branch(b.name, b.msg, map[string]string{b.path: strings.Replace(string(body), b.old, b.new, 1)}); err != nil {
			return "", "", err
		}
	}
	// JIRA-4 adds a smoke check to dev that its own status file fails.
	if err := branch("JIRA-4", "JIRA-4: smoke-test dev after each deploy", map[string]string{
		"code-releaser.yml": demoSpec + demoSmokeSpec, "smoke.sh": demoSmoke, "app/status": "starting\n",
	}); err != nil {
		return "", "", err
	}
	if _, err := demoGit(ctx, work, "add", "-A"); err != nil {
		return "", "", err
	}
	if _, err := demoGit(ctx, work, "commit", "-q", "--amend", "--no-edit"); err != nil {
		return "", "", err
	}
	if _, err := demoGit(ctx, work, "push", "-q", remote, "master", "JIRA-1", "JIRA-2", "JIRA-3", "JIRA-4"); err != nil {
		return "", "", err
	}
	return remote, work, nil
}

func section(e *env, title string) {
	fmt.Fprintf(e.stdout, "\n=== %s ===\n", title)
}

// playDemo plays the story; it returns an error when something did not
// go as the story says.
func playDemo(ctx context.Context, e *env, dir string) error {
	section(e, "setup")
	remote, work, err := buildDemoRemote(ctx, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "sample infra repo at %s: master plus ticket branches JIRA-1 (stacks/network.yml), JIRA-2 (playbooks/site.yml), JIRA-3 (stacks/network.yml, same lines as JIRA-1), JIRA-4 (a smoke check of dev)\n", remote)
	cfg := defaultConfig(e.getenv)
	cfg.Repo.URL = "file://" + filepath.ToSlash(remote)
	cfg.Repo.CacheDir = filepath.Join(dir, "cache")
	// Every env deploys to the local CloudFormation simulator (one fake
	// account); the real SDK client talks to it over the wire protocol.
	cfn := cfntest.New(cfntest.Options{ResourceDelay: 50 * time.Millisecond, ChangeSetDelay: 20 * time.Millisecond})
	defer cfn.Close()
	awsFor := awsConfig{Region: cfn.Region(), AccountID: cfn.Account()}
	cfg.Environments = []envConfig{{Name: "dev", AWS: awsFor}, {Name: "stg", AWS: awsFor}, {Name: "prod", Production: true, RequiresEnv: "stg", AWS: awsFor,
		Approvals: approvalsConfig{Required: 1, Approvers: []string{"dave"}, ExpireAfter: "10m"}}}
	if err := cfg.validate(); err != nil {
		return err
	}
	cfg.loadAWS = func(ctx context.Context, _ string) (aws.Config, error) { return cfn.Config(ctx) }
	fmt.Fprintf(e.stdout, "AWS: a local CloudFormation simulator at %s (account %s, %s)\n", cfn.URL, cfn.Account(), cfn.Region())
	stackDeployed := func(stack string) error {
		if st := cfn.StackStatus(stack); st != "CREATE_COMPLETE" && st != "UPDATE_COMPLETE" {
			return fmt.Errorf("stack %s is %q after the release, want CREATE_COMPLETE or UPDATE_COMPLETE", stack, st)
		}
		return nil
	}
	a, err := newApp(ctx, cliLogger(e), cfg, e.stdout)
	if err != nil {
		return err
	}
	defer a.close()
	release := func(ticket, envName, user string) (workflow.Release, error) {
		return a.svc.Release(ctx, workflow.ReleaseRequest{Ticket: ticket, Env: envName, User: workflow.User{ID: user}})
	}

	section(e, "1. alice: /release JIRA-1 dev")
	if _, err := release("JIRA-1", "dev", "alice"); err != nil {
		return fmt.Errorf("alice's JIRA-1 to dev: %w", err)
	}
	for _, st := range []string{"dev-network", "dev-app"} {
		if err := stackDeployed(st); err != nil {
			return err
		}
	}

	section(e, "2. bob: /release JIRA-2 dev (alice's JIRA-1 stays)")
	if _, err := release("JIRA-2", "dev", "bob"); err != nil {
		return fmt.Errorf("bob's JIRA-2 to dev: %w", err)
	}

	section(e, "3. carol: /release JIRA-3 dev (conflicts with JIRA-1)")
	_, err = release("JIRA-3", "dev", "carol")
	var cr *workflow.ConflictReport
	switch {
	case err == nil:
		return errors.New("carol's JIRA-3 merged cleanly; it should conflict with JIRA-1")
	case !errors.As(err, &cr):
		return fmt.Errorf("carol's JIRA-3: want a conflict, got: %w", err)
	case !slices.Contains(cr.Paths(), "stacks/network.yml"):
		return fmt.Errorf("carol's JIRA-3 conflicts in %v, want stacks/network.yml", cr.Paths())
	case len(cr.Culprits) == 0 || cr.Culprits[0].Occupant.Ticket != "JIRA-1" || cr.Culprits[0].Occupant.By != "alice":
		return fmt.Errorf("carol's conflict does not name alice's JIRA-1: %v", cr)
	}

	section(e, "4. bob: /release JIRA-4 dev (its smoke check fails), [Roll back], then the fix")
	failed, err := release("JIRA-4", "dev", "bob")
	if err == nil || failed.PushedSHA == "" {
		return fmt.Errorf("bob's JIRA-4 to dev: %v (pushed %q); want its smoke check to fail after the push", err, failed.PushedSHA)
	}
	fmt.Fprintln(e.stdout, "bob presses [Roll back] in the release's thread:")
	rb, err := a.svc.Rollback(ctx, workflow.RollbackRequest{Release: failed.ID, By: workflow.User{ID: "bob"}})
	if err != nil {
		return fmt.Errorf("bob's rollback of JIRA-4: %w", err)
	}
	fmt.Fprintf(e.stdout, "rolled back: %s is at %s with the tree of %s (history kept); left: %s; in it: %s; deploy %s\n",
		rb.Env.Branch, shortSHA(rb.SHA), shortSHA(rb.To), tickets(rb.Left), tickets(rb.Stayed), rb.Deploy.Status)
	if parent, err := demoGit(ctx, remote, "rev-parse", "release/dev~1"); err != nil || parent != failed.PushedSHA {
		return fmt.Errorf("remote release/dev~1 is %q (%v), want the failed release %s kept in the history", parent, err, failed.PushedSHA)
	}
	fmt.Fprintln(e.stdout, "bob fixes app/status on JIRA-4 and releases it again: all of JIRA-4 comes back, the commit the rollback undid too")
	if _, err := demoGit(ctx, work, "checkout", "-q", "JIRA-4"); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "app", "status"), []byte("ready\n"), 0o644); err != nil {
		return err
	}
	if _, err := demoGit(ctx, work, "commit", "-q", "-am", "JIRA-4: the app reports ready"); err != nil {
		return err
	}
	if _, err := demoGit(ctx, work, "push", "-q", remote, "JIRA-4"); err != nil {
		return err
	}
	if _, err := release("JIRA-4", "dev", "bob"); err != nil {
		return fmt.Errorf("bob's fixed JIRA-4 to dev: %w", err)
	}
	if smoke, err := demoGit(ctx, remote, "show", "release/dev:smoke.sh"); err != nil || !strings.Contains(smoke, "want ready") {
		return fmt.Errorf("remote release/dev lacks JIRA-4's smoke.sh after its new release (%v)", err)
	}

	section(e, "5. /release status")
	if err := a.repo.Fetch(ctx); err != nil {
		return err
	}
	if err := a.printStatus(ctx, e.stdout); err != nil {
		return err
	}
	for _, want := range []struct {
		ticket string
		in     bool
	}{{"JIRA-1", true}, {"JIRA-2", true}, {"JIRA-3", false}, {"JIRA-4", true}} {
		_, err := demoGit(ctx, remote, "merge-base", "--is-ancestor", "refs/heads/"+want.ticket, "refs/heads/release/dev")
		if got := err == nil; got != want.in {
			return fmt.Errorf("remote release/dev contains %s: %t, want %t", want.ticket, got, want.in)
		}
	}

	section(e, "6. alice: /release JIRA-1 stg; its pull request is merged into master; alice: /release JIRA-1 prod")
	fmt.Fprintln(e.stdout, "(prod takes only tickets that went through stg (requires_env), deploys master only, and waits for one of its approvers, dave)")
	if _, err := release("JIRA-1", "stg", "alice"); err != nil {
		return fmt.Errorf("alice's JIRA-1 to stg: %w", err)
	}
	if _, err := demoGit(ctx, work, "checkout", "-q", "master"); err != nil {
		return err
	}
	if _, err := demoGit(ctx, work, "merge", "-q", "--no-ff", "-m", "Merge pull request #1 from JIRA-1", "JIRA-1"); err != nil {
		return err
	}
	if _, err := demoGit(ctx, work, "push", "-q", remote, "master"); err != nil {
		return err
	}
	if err := releaseWithApproval(ctx, e, a.svc, release); err != nil {
		return err
	}
	for _, st := range []string{"prod-network", "prod-app"} {
		if err := stackDeployed(st); err != nil {
			return err
		}
	}

	section(e, "7. /release status (JIRA-1 is in master: it has graduated from dev)")
	if err := a.repo.Fetch(ctx); err != nil {
		return err
	}
	return a.printStatus(ctx, e.stdout)
}

// releaseWithApproval releases alice's JIRA-1 to prod, which waits for an
// approval: bob, who is not an approver, is refused; dave approves; the
// release then deploys the approved master SHA.
func releaseWithApproval(ctx context.Context, e *env, svc *workflow.Service, release func(ticket, envName, user string) (workflow.Release, error)) error {
	done := make(chan error, 1)
	go func() {
		_, err := release("JIRA-1", "prod", "alice")
		done <- err
	}()
	// The request's ID is in prod's audit trail ("request ID: ...").
	var id string
	for id == "" {
		select {
		case err := <-done:
			return fmt.Errorf("alice's JIRA-1 to prod ended before asking for approval: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		evs, err := svc.History(ctx, "prod", 20)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if rest, ok := strings.CutPrefix(ev.Detail, "request "); ok && ev.Action == workflow.ActionApprovalRequested {
				id, _, _ = strings.Cut(rest, ":")
			}
		}
	}
	fmt.Fprintf(e.stdout, "[approvals] @alice asks to deploy master to prod for JIRA-1 (request %s) [Approve] [Reject]\n", id)
	if _, err := svc.Approve(ctx, id, workflow.User{ID: "bob"}); err == nil {
		return errors.New("bob, who is not one of prod's approvers, could approve")
	} else {
		fmt.Fprintf(e.stdout, "[approvals] bob presses Approve: %s\n", workflow.UserMessage(err))
	}
	a, err := svc.Approve(ctx, id, workflow.User{ID: "dave"})
	if err != nil {
		return fmt.Errorf("dave's approval: %w", err)
	}
	fmt.Fprintf(e.stdout, "[approvals] dave presses Approve: vote recorded, %d of %d; prod deploys the approved SHA\n", a.Approvals(), a.Required)
	if err := <-done; err != nil {
		return fmt.Errorf("alice's JIRA-1 to prod: %w", err)
	}
	return nil
}
