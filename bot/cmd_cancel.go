package bot

import (
	"context"
	"fmt"
)

// cancelCommand is /release cancel TICKET ENV.
func (b *Bot) cancelCommand() Command {
	return Command{
		Name:    "cancel",
		Args:    []Arg{ArgTicket, ArgEnv},
		Summary: "take the ticket out of the env's queue",
		Run:     b.cancel,
	}
}

func (b *Bot) cancel(ctx context.Context, req *Request) (Reply, error) {
	if _, err := b.d.Lifecycle.Cancel(withOrigin(ctx, req), req.Args.Ticket, req.Args.Env, req.User); err != nil {
		return Reply{}, err
	}
	return textReply(fmt.Sprintf("*%s* left the *%s* queue.", req.Args.Ticket, req.Args.Env)), nil
}
