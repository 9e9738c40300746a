package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	"github.com/code-releaser/code-releaser/deploy"
	"github.com/code-releaser/code-releaser/integrations/gitrepo"
	"github.com/code-releaser/code-releaser/workflow"
)

// envAWS is the deployer's view of an env's aws settings.
func (a awsConfig) envAWS() deploy.EnvAWS {
	ea := deploy.EnvAWS{Region: a.Region, AccountID: a.AccountID, RoleARN: a.RoleARN, TemplateBucket: a.TemplateBucket,
		Steps: deploy.StepPolicy{Credentials: a.StepCredentials, Runner: a.StepRunner}}
	if a.StepRunAs != nil {
		ea.Steps.RunAs = &deploy.RunAs{UID: a.StepRunAs.UID, GID: a.StepRunAs.GID}
	}
	return ea
}

// isSet reports whether the env has aws settings at all.
func (a awsConfig) isSet() bool {
	return a.Region != "" || a.AccountID != "" || a.RoleARN != "" || a.TemplateBucket != "" || a.StepCredentials != "" || len(a.StepRunner) > 0 || a.StepRunAs != nil
}

// deployConfig is the deployer's part of the config: the envs that have
// AWS settings. loadAWS is nil for the SDK's default chain (which also
// reads AWS_ENDPOINT_URL and its per-service forms).
func (c config) deployConfig(loadAWS deploy.LoadAWS) deploy.Config {
	envs := map[string]deploy.EnvAWS{}
	for _, e := range c.Environments {
		if e.AWS.isSet() {
			envs[e.Name] = e.AWS.envAWS()
		}
	}
	return deploy.Config{Envs: envs, LoadAWS: loadAWS}
}

var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// runDeploy is `deploy ENV [--ref R] [--plan] [--all] --config FILE`: deploy
// (or, with --plan, preview) a branch or commit to an env without merging
// anything. It takes no lease and records nothing in the store.
func runDeploy(ctx context.Context, e *env, args []string) error {
	pos, opts, err := parseFlags(args, []string{"config", "ref"}, []string{"plan", "all"})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"need an env"}
	}
	cfg, err := loadConfig(opts["config"], e.dir, e.getenv)
	if err != nil {
		if _, ok := err.(usageError); ok {
			return err
		}
		fmt.Fprintf(e.stderr, "code-releaser deploy: %s\n", err)
		return exitError{2}
	}
	dc := cfg.deployConfig(nil)
	dc.Plan, dc.All = opts["plan"] != "", opts["all"] != ""
	return deployRef(ctx, e, cliLogger(e), cfg, dc, pos[0], opts["ref"])
}

// deployRef resolves ref (default: the env's branch) in the mirror and
// deploys it, printing progress and the result.
func deployRef(ctx context.Context, e *env, log *slog.Logger, cfg config, dc deploy.Config, envName, ref string) error {
	wcfg := cfg.workflowConfig()
	var target *workflow.Env
	for i, en := range wcfg.Envs {
		if en.Name == envName {
			target = &wcfg.Envs[i]
		}
	}
	if target == nil {
		return failWith(e, "deploy", workflow.Errorf("deploy", workflow.Invalid, "%q is not a configured env", envName))
	}
	if _, ok := dc.Envs[envName]; !ok {
		return failWith(e, "deploy", workflow.Errorf("deploy", workflow.Invalid, "env %s has no aws settings (environments[].aws: region, account_id, role_arn)", envName))
	}
	if target.Branch == "" {
		target.Branch = cfg.Repo.ReleasePrefix + target.Name
		if target.Production {
			target.Branch = cfg.Repo.ProductionBranch
		}
	}
	if ref == "" {
		ref = target.Branch
	}
	repo, err := gitrepo.Open(ctx, log, cfg.gitConfig())
	if err != nil {
		return failWith(e, "deploy", err)
	}
	defer repo.Close()
	if err := repo.Fetch(ctx); err != nil {
		return failWith(e, "deploy", err)
	}
	sha := ref
	if !fullSHA.MatchString(ref) {
		if err := workflow.ValidateBranchName(ref); err != nil {
			return failWith(e, "deploy", err)
		}
		tip, ok, err := repo.Tip(ctx, ref)
		if err != nil {
			return failWith(e, "deploy", err)
		}
		if !ok {
			return failWith(e, "deploy", workflow.Errorf("deploy", workflow.NotFound, "the remote has no branch %s", ref))
		}
		sha = tip
	}
	d, err := deploy.New(log, repo, dc)
	if err != nil {
		return failWith(e, "deploy", workflow.Wrap("deploy", workflow.Invalid, err.Error(), err))
	}
	if dc.Plan {
		// The prod approval preview's plan: change sets made, described
		// and deleted, replacements marked.
		fmt.Fprintf(e.stdout, "planning %s (%s) to %s\n", ref, shortSHA(sha), envName)
		plan, err := d.Plan(ctx, *target, sha)
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
	fmt.Fprintf(e.stdout, "deploying %s (%s) to %s\n", ref, shortSHA(sha), envName)
	res, err := d.Deploy(ctx, *target, sha, progressPrinter(e.stdout))
	if err != nil {
		return failWith(e, "deploy", err)
	}
	printDeployResult(e.stdout, res)
	if res.Status == workflow.DeployFailed {
		return exitError{1}
	}
	return nil
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
	dc := cfg.deployConfig(cfg.loadAWS)
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
