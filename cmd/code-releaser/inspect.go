package main

import (
	"context"
	"fmt"

	"github.com/code-releaser/code-releaser/workflow"
)

var _ workflow.Inspector = routedDeployer{}

// Deployed implements workflow.Inspector for the envs with aws settings.
func (r routedDeployer) Deployed(ctx context.Context, env workflow.Env, sha string) ([]workflow.DeployedStack, error) {
	if _, ok := r.envs[env.Name]; !ok {
		return nil, noAWS("diff", env)
	}
	return r.aws.Deployed(ctx, env, sha)
}

// Drift implements workflow.Inspector for the envs with aws settings.
func (r routedDeployer) Drift(ctx context.Context, env workflow.Env, sha string) ([]workflow.StackDrift, error) {
	if _, ok := r.envs[env.Name]; !ok {
		return nil, noAWS("drift", env)
	}
	return r.aws.Drift(ctx, env, sha)
}

func noAWS(op string, env workflow.Env) error {
	return workflow.Errorf(op, workflow.Invalid, "%s has no aws settings (environments[].aws), so there is no deployed state to read", env.Name)
}

// runDiff is `diff ENV --config FILE`: the env branch, what each stack
// was last deployed from, master, and the tickets in each.
func runDiff(ctx context.Context, e *env, args []string) error {
	return runInspect(ctx, e, args, "diff", func(a *app, name string) (string, error) {
		d, err := a.svc.Diff(ctx, name)
		if err != nil {
			return "", err
		}
		return d.Text(), nil
	})
}

// runDrift is `drift ENV --config FILE`: CloudFormation drift detection
// on the env's stacks.
func runDrift(ctx context.Context, e *env, args []string) error {
	return runInspect(ctx, e, args, "drift", func(a *app, name string) (string, error) {
		st, err := a.svc.Drift(ctx, name)
		if err != nil {
			return "", err
		}
		return workflow.DriftText(name, st), nil
	})
}

func runInspect(ctx context.Context, e *env, args []string, cmd string, text func(a *app, env string) (string, error)) error {
	pos, opts, err := parseFlags(args, []string{"config"}, nil)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"need an env"}
	}
	a, err := openApp(ctx, e, opts["config"], cmd)
	if err != nil {
		return err
	}
	defer a.close()
	out, err := text(a, pos[0])
	if err != nil {
		return failWith(e, cmd, err)
	}
	fmt.Fprint(e.stdout, out)
	return nil
}
