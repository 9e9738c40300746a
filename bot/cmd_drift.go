package bot

import (
	"context"

	"github.com/code-releaser/code-releaser/workflow"
)

// driftCommand is /release drift ENV.
func (b *Bot) driftCommand() Command {
	return Command{
		Name:    "drift",
		Args:    []Arg{ArgEnv},
		Summary: "run CloudFormation drift detection on the env's stacks and list the resources changed outside the deploys",
		Run:     b.drift,
	}
}

func (b *Bot) drift(ctx context.Context, req *Request) (Reply, error) {
	stacks, err := b.d.Service.Drift(ctx, req.Args.Env)
	if err != nil {
		return Reply{}, err
	}
	return preformatted(workflow.DriftText(req.Args.Env, stacks)), nil
}
