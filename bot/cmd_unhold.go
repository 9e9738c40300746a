package bot

import (
	"context"
	"fmt"
)

// unholdCommand is /release unhold ENV.
func (b *Bot) unholdCommand() Command {
	return Command{
		Name:    "unhold",
		Args:    []Arg{ArgEnv},
		Summary: "lift the env's hold; the queue moves on",
		Run:     b.unhold,
	}
}

func (b *Bot) unhold(ctx context.Context, req *Request) (Reply, error) {
	if err := b.d.Lifecycle.Unhold(withOrigin(ctx, req), req.Args.Env, req.User); err != nil {
		return Reply{}, err
	}
	return Reply{Public: true, Text: fmt.Sprintf(":arrow_forward: %s lifted the hold on *%s*.", mention(req.User.ID), req.Args.Env)}, nil
}
