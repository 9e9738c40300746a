package bot

import (
	"context"
	"fmt"
)

// holdCommand is /release hold ENV [reason].
func (b *Bot) holdCommand() Command {
	return Command{
		Name:    "hold",
		Args:    []Arg{ArgEnv, ArgReason},
		Summary: "freeze the env: releases queue until it is unheld",
		Run:     b.hold,
	}
}

func (b *Bot) hold(ctx context.Context, req *Request) (Reply, error) {
	if b.d.Lifecycle == nil {
		return Reply{}, notYet("hold")
	}
	if err := b.d.Lifecycle.Hold(ctx, req.Args.Env, req.User, req.Args.Reason); err != nil {
		return Reply{}, err
	}
	return Reply{Public: true, Text: fmt.Sprintf(":double_vertical_bar: %s held *%s*: %s", mention(req.User.ID), req.Args.Env, orNone(req.Args.Reason, "no reason given"))}, nil
}
