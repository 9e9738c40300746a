package bot

import (
	"context"

	"github.com/code-releaser/code-releaser/workflow"
)

// releaseCommand is /release TICKET ENV: the default command.
func (b *Bot) releaseCommand() Command {
	return Command{
		Name:    "release",
		Args:    []Arg{ArgTicket, ArgEnv},
		Summary: "merge the ticket's branch into the env and deploy it (prod: ask for approval)",
		Run:     b.release,
	}
}

// release runs the release under the bot's context. The Notifier posts and
// edits the release's message in the channel; only errors raised before
// the release is recorded (bad env, unknown ticket, not allowed) come back
// here, as an ephemeral reply.
func (b *Bot) release(ctx context.Context, req *Request) (Reply, error) {
	id := b.newReleaseID()
	b.d.Notifier.Expect(id, Origin{Channel: req.Channel, User: req.User.ID})
	rec, err := b.d.Service.Release(ctx, workflow.ReleaseRequest{
		Ticket: req.Args.Ticket, Env: req.Args.Env, User: req.User, ID: id,
	})
	if rec.ID == "" {
		b.d.Notifier.Forget(id)
		return Reply{}, err
	}
	return Reply{}, nil // the channel was told, success or not
}
