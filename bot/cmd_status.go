package bot

import (
	"context"
)

// statusCommand is /release status [ENV].
func (b *Bot) statusCommand() Command {
	return Command{
		Name:    "status",
		Args:    []Arg{ArgEnvOpt},
		Summary: "who is in each env, holds, queues and the last deploy",
		Run:     b.status,
	}
}

func (b *Bot) status(ctx context.Context, req *Request) (Reply, error) {
	var envs []string
	if req.Args.Env != "" {
		envs = []string{req.Args.Env}
	}
	st, err := b.d.Service.Status(ctx, envs...)
	if err != nil {
		return Reply{}, err
	}
	blocks := b.boardBlocks(ctx, st, 50)
	return Reply{Text: boardText(st), Blocks: blocks}, nil
}
