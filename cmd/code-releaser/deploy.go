package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/code-releaser/code-releaser/deploy"
	"github.com/code-releaser/code-releaser/integrations/gitrepo"
	"github.com/code-releaser/code-releaser/workflow"
)

// nobody is the user and group command steps run as when the bot runs as
// root and the env names no step_run_as or step_runner: ticket code never
// runs as root, which could read the bot's memory and every file.
var nobody = deploy.RunAs{UID: 65534, GID: 65534}

// envAWS is the deployer's view of an env's aws settings.
func (a awsConfig) envAWS() deploy.EnvAWS {
	ea := deploy.EnvAWS{Region: a.Region, AccountID: a.AccountID, RoleARN: a.RoleARN, TemplateBucket: a.TemplateBucket,
		Steps: deploy.StepPolicy{Credentials: a.StepCredentials, Runner: a.StepRunner}}
	switch {
	case a.StepRunAs != nil:
		ea.Steps.RunAs = &deploy.RunAs{UID: a.StepRunAs.UID, GID: a.StepRunAs.GID}
	case len(a.StepRunner) == 0 && os.Geteuid() == 0:
		ea.Steps.RunAs = &nobody
	}
	return ea
}

// isSet reports whether the env has aws settings at all.
func (a awsConfig) isSet() bool {
	return a.Region != "" || a.AccountID != "" || a.RoleARN != "" || a.TemplateBucket != "" || a.StepCredentials != "" || len(a.StepRunner) > 0 || a.StepRunAs != nil
}

// deployConfig is the deployer's part of the config: the envs that have
// AWS settings, loaded with c.loadAWS (nil: the SDK's default chain, which also
// reads AWS_ENDPOINT_URL and its per-service forms).
func (c config) deployConfig() deploy.Config {
	envs := map[string]deploy.EnvAWS{}
	for _, e := range c.Environments {
		if e.AWS.isSet() {
			envs[e.Name] = e.AWS.envAWS()
		}
	}
	// Step output and deploy reasons lose every secret the process knows.
	return deploy.Config{Envs: envs, LoadAWS: c.loadAWS, Redact: c.secrets.Redact}
}

var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// runDeploy is `deploy ENV [--ref R] [--plan] [--all] --as USER --config
// FILE`: deploy (or, with --plan, preview) a branch or commit to an env
// without merging anything. A deploy takes the env's lease (it never
// interleaves with a release), is recorded as the env's last deploy and in
// its history with who asked, and refuses an env whose releases need
// approvals; a production env takes the production branch's tip only, for
// a plan too.
func runDeploy(ctx context.Context, e *env, args []string) error {
	pos, opts, err := parseFlags(args, []string{"config", "ref", "as"}, []string{"plan", "all"})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"need an env"}
	}
	plan := opts["plan"] != ""
	if !plan && opts["as"] == "" {
		return usageError{"--as USER is required: who is deploying? (it goes in the env's history)"}
	}
	cfg, err := loadConfig(opts["config"], e.dir, e.getenv)
	if err != nil {
		if _, ok := err.(usageError); ok {
			return err
		}
		fmt.Fprintf(e.stderr, "code-releaser deploy: %s\n", err)
		return exitError{2}
	}
	cfg.deployAll = opts["all"] != ""
	log := cliLogger(e)
	a, err := newApp(ctx, log, cfg, e.stdout)
	if err != nil {
		return failWith(e, "deploy", err)
	}
	defer a.close()
	target, sha, err := deployTarget(ctx, a.svc, cfg, a.repo, pos[0], opts["ref"])
	if err != nil {
		return failWith(e, "deploy", err)
	}
	ref := orDefault(opts["ref"], target.Branch)
	if plan {
		return planRef(ctx, e, log, a, target, ref, sha)
	}
	return deployRef(ctx, e, a, target, ref, sha, workflow.User{ID: opts["as"], Via: workflow.ViaTerminal})
}

// deployTarget is the env named and the commit ref names in the fetched
// mirror (default: the env's branch); a production env takes the
// production branch's tip only.
func deployTarget(ctx context.Context, svc *workflow.Service, cfg config, repo *gitrepo.Mirror, envName, ref string) (workflow.Env, string, error) {
	target, err := svc.Env(envName)
	if err != nil {
		return workflow.Env{}, "", err
	}
	if _, ok := cfg.deployConfig().Envs[envName]; !ok {
		return workflow.Env{}, "", workflow.Errorf("deploy", workflow.Invalid, "env %s has no aws settings (environments[].aws: region, account_id, role_arn)", envName)
	}
	if ref == "" {
		ref = target.Branch
	}
	if err := repo.Fetch(ctx); err != nil {
		return workflow.Env{}, "", err
	}
	tip := func(branch string) (string, error) {
		sha, ok, err := repo.Tip(ctx, branch)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", workflow.Errorf("deploy", workflow.NotFound, "the remote has no branch %s", branch)
		}
		return sha, nil
	}
	sha := ref
	if !fullSHA.MatchString(ref) {
		if err := workflow.ValidateBranchName(ref); err != nil {
			return workflow.Env{}, "", err
		}
		if sha, err = tip(ref); err != nil {
			return workflow.Env{}, "", err
		}
	}
	if target.Production {
		prod, err := tip(svc.ProductionBranch())
		if err != nil {
			return workflow.Env{}, "", err
		}
		if err := workflow.CheckDeployRef(target, svc.ProductionBranch(), prod, sha); err != nil {
			return workflow.Env{}, "", err
		}
	}
	return target, sha, nil
}

// planRef prints the change sets that deploying ref to envName would make
// (the prod approval preview's plan: made, described and deleted,
// replacements marked). It takes no lease: nothing changes.
func planRef(ctx context.Context, e *env, log *slog.Logger, a *app, target workflow.Env, ref, sha string) error {
	dc := a.cfg.deployConfig()
	dc.Plan = true
	d, err := deploy.New(log, a.repo, dc)
	if err != nil {
		return failWith(e, "deploy", workflow.Wrap("deploy", workflow.Invalid, err.Error(), err))
	}
	fmt.Fprintf(e.stdout, "planning %s (%s) to %s\n", ref, shortSHA(sha), target.Name)
	plan, err := d.Plan(ctx, target, sha)
	if err != nil {
		return failWith(e, "deploy", err)
	}
	fmt.Fprint(e.stdout, deploy.FormatPlan(plan))
	for _, s := range plan.Stacks {
		if s.Action == workflow.PlanFailed || s.Action == workflow.PlanRefused {
			return exitError{1}
		}
	}
	return nil
}

// deployRef deploys ref to envName through the workflow (lease, record,
// history), printing progress and the result.
func deployRef(ctx context.Context, e *env, a *app, target workflow.Env, ref, sha string, by workflow.User) error {
	envName := target.Name
	if !a.cfg.Redis.shared() {
		fmt.Fprintf(e.stdout, "(no redis section: %s's lease and record live in this process only; they do not keep the bot or another terminal from deploying %s meanwhile, and the bot will not see this deploy)\n", envName, envName)
	}
	fmt.Fprintf(e.stdout, "deploying %s (%s) to %s as %s\n", ref, shortSHA(sha), envName, by)
	res, err := a.svc.DeployCommit(ctx, workflow.DeployRequest{Env: envName, Ref: ref, SHA: sha, User: by}, progressPrinter(e.stdout))
	if err != nil {
		return failWith(e, "deploy", err)
	}
	printDeployResult(e.stdout, res)
	if res.Status == workflow.DeployFailed {
		return exitError{1}
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// progressPrinter prints a deploy's steps as they come.
func progressPrinter(w io.Writer) workflow.Progress {
	var mu sync.Mutex
	return func(s workflow.Step) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "  %-16s %s\n", s.Name, s.Detail)
	}
}

func printDeployResult(w io.Writer, res workflow.DeployResult) {
	fmt.Fprintf(w, "%s: %s (%s)\n", res.Status, res.Summary, res.Finished.Sub(res.Started).Round(1e6))
	for _, s := range res.Stacks {
		line := fmt.Sprintf("  %-24s %s", s.Name, s.Status)
		if s.Reason != "" {
			line += ": " + strings.ReplaceAll(s.Reason, "\n", "\n      ")
		}
		fmt.Fprintln(w, line)
	}
}

// newDeployer is the deployer of release and serve: envs with aws settings
// deploy through CloudFormation, the others are skipped (and say so).
func newDeployer(log *slog.Logger, cfg config, src deploy.Source) (workflow.Deployer, error) {
	dc := cfg.deployConfig()
	dc.All = cfg.deployAll
	if len(dc.Envs) == 0 {
		return workflow.SkipDeployer{}, nil
	}
	d, err := deploy.New(log, src, dc)
	if err != nil {
		return nil, workflow.Wrap("config", workflow.Invalid, err.Error(), err)
	}
	return routedDeployer{aws: d, envs: dc.Envs}, nil
}

// routedDeployer sends each env to CloudFormation or skips it. It plans
// (workflow.Planner, the prod approval preview) the envs with aws settings.
type routedDeployer struct {
	aws  *deploy.Deployer
	envs map[string]deploy.EnvAWS
}

var _ workflow.Planner = routedDeployer{}

func (r routedDeployer) Plan(ctx context.Context, env workflow.Env, sha string) (workflow.DeployPlan, error) {
	if _, ok := r.envs[env.Name]; ok {
		return r.aws.Plan(ctx, env, sha)
	}
	return workflow.DeployPlan{}, workflow.ErrNoPlan
}

func (r routedDeployer) Deploy(ctx context.Context, env workflow.Env, sha string, p workflow.Progress) (workflow.DeployResult, error) {
	if _, ok := r.envs[env.Name]; ok {
		return r.aws.Deploy(ctx, env, sha, p)
	}
	return workflow.SkipDeployer{}.Deploy(ctx, env, sha, p)
}
