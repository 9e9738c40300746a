package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/code-releaser/code-releaser/workflow"
)

// removeCommand is /release remove TICKET ENV [reason].
func (b *Bot) removeCommand() Command {
	return Command{
		Name:    "remove",
		Args:    []Arg{ArgTicket, ArgEnv, ArgReason},
		Summary: "rebuild the env branch from master and the other tickets in it (a reason is recorded and announced)",
		Run:     b.remove,
	}
}

func (b *Bot) remove(ctx context.Context, req *Request) (Reply, error) {
	var c workflow.EnvChange
	var err error
	if strings.TrimSpace(req.Args.Reason) != "" {
		c, err = b.d.Lifecycle.ForceRemove(withOrigin(ctx, req), req.Args.Ticket, req.Args.Env, req.User, req.Args.Reason)
	} else {
		c, err = b.d.Lifecycle.Remove(withOrigin(ctx, req), req.Args.Ticket, req.Args.Env, req.User)
	}
	if err != nil {
		return Reply{}, err
	}
	return textReply(fmt.Sprintf("*%s* left *%s*: `%s` is master plus %s.", req.Args.Ticket, req.Args.Env, shortSHA(c.SHA), orNone(occupantList(c.Stayed), "nothing else"))), nil
}

// rollbackCommand is /release rollback TICKET ENV.
func (b *Bot) rollbackCommand() Command {
	return Command{
		Name:    "rollback",
		Args:    []Arg{ArgTicket, ArgEnv},
		Summary: "undo the ticket's last release to the env: the env as before it (prod: its previous deploy, after approvals)",
		Run: func(ctx context.Context, req *Request) (Reply, error) {
			return b.rollBack(ctx, req, workflow.RollbackRequest{Ticket: req.Args.Ticket, Env: req.Args.Env, By: req.User})
		},
	}
}
