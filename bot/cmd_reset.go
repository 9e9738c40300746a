package bot

import (
	"context"
	"fmt"
)

// resetCommand is /release reset ENV: it asks for a confirmation first.
func (b *Bot) resetCommand() Command {
	return Command{
		Name:    "reset",
		Args:    []Arg{ArgEnv},
		Summary: "make the env branch master again (asks to confirm; the occupants are told)",
		Run:     b.reset,
	}
}

func (b *Bot) reset(ctx context.Context, req *Request) (Reply, error) {
	text := fmt.Sprintf("Reset *%s* to master? Every ticket in %s leaves it and its owner is told.", req.Args.Env, req.Args.Env)
	return Reply{Text: text, Blocks: confirmBlocks(text, "reset:"+req.Args.Env)}, nil
}
