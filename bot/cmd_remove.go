package bot

import (
	"context"
	"fmt"
)

// removeCommand is /release remove TICKET ENV.
func (b *Bot) removeCommand() Command {
	return Command{
		Name:    "remove",
		Args:    []Arg{ArgTicket, ArgEnv},
		Summary: "rebuild the env branch from master and the other tickets in it",
		Run:     b.remove,
	}
}

func (b *Bot) remove(ctx context.Context, req *Request) (Reply, error) {
	if b.d.Lifecycle == nil {
		return Reply{}, notYet("remove")
	}
	if err := b.d.Lifecycle.Remove(ctx, req.Args.Ticket, req.Args.Env, req.User); err != nil {
		return Reply{}, err
	}
	return textReply(fmt.Sprintf("Removing *%s* from *%s*; the channel will be told.", req.Args.Ticket, req.Args.Env)), nil
}
