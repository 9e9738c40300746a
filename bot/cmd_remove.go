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
	c, err := b.d.Lifecycle.Remove(withOrigin(ctx, req), req.Args.Ticket, req.Args.Env, req.User)
	if err != nil {
		return Reply{}, err
	}
	return textReply(fmt.Sprintf("*%s* left *%s*: `%s` is master plus %s.", req.Args.Ticket, req.Args.Env, shortSHA(c.SHA), orNone(occupantList(c.Stayed), "nothing else"))), nil
}
