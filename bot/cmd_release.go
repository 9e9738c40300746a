package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/code-releaser/code-releaser/workflow"
)

// releaseCommand is /release TICKET ENV: the default command.
func (b *Bot) releaseCommand() Command {
	return Command{
		Name:    "release",
		Args:    []Arg{ArgTicket, ArgEnv, ArgSoakOpt},
		Summary: "merge the ticket's branch into the env and deploy it (prod: ask for approval; an approver may skip its soak with " + overrideSoakFlag + " and a reason)",
		Run:     b.release,
	}
}

// release hands the release to the job workers (workflow.Submit) and
// answers at once with its place in the env's queue. Whichever replica's
// worker holds the env's lease runs it; the Notifier posts and edits the
// release's message in the channel from there, and a prod release waits
// for its approval in the worker, not here. Errors raised before the
// release is recorded (bad env, unknown ticket, not allowed) come back as
// an ephemeral reply.
func (b *Bot) release(ctx context.Context, req *Request) (Reply, error) {
	id := releaseID(req)
	if err := b.d.Notifier.Expect(ctx, id, Origin{Channel: req.Channel, User: req.User.ID}); err != nil {
		b.log.Warn("record the release's channel", slog.String("release", id), slog.Any("err", err))
	}
	// While the state store is down nothing is recorded: the same
	// request (same ID) is submitted again until it is, or StoreRetry
	// passes. Once recorded, its outcome is the channel's to tell.
	var (
		rec workflow.Release
		pos int
		err error
	)
	_ = b.retryUnavailable(ctx, req, func() error {
		rec, pos, err = b.d.Service.Submit(ctx, workflow.ReleaseRequest{
			Ticket: req.Args.Ticket, Env: req.Args.Env, User: req.User, ID: id, OverrideSoak: req.Args.OverrideSoak,
		})
		if rec.ID != "" {
			return nil
		}
		return err
	})
	switch {
	case rec.ID == "":
		return Reply{}, err
	case err != nil:
		return Reply{}, nil // recorded, then it failed: the channel was told
	case rec.State.Final():
		return textReply(fmt.Sprintf("This request was handled already: *%s* to *%s* is %s (release `%s`).", rec.Ticket, rec.Env, rec.State, rec.ID)), nil
	}
	if pos <= 1 {
		return textReply(fmt.Sprintf(":inbox_tray: *%s* to *%s* is next in line (release `%s`); progress follows in the channel.", rec.Ticket, rec.Env, rec.ID)), nil
	}
	return textReply(fmt.Sprintf(":inbox_tray: *%s* to *%s* is #%d in the queue, behind %s (release `%s`); progress follows in the channel.",
		rec.Ticket, rec.Env, pos, plural(pos-1, "release"), rec.ID)), nil
}

// releaseID derives a release's ID from what Slack sent, so that a
// redelivered envelope, on this replica or another, maps to the same
// release: the command's trigger_id, else the envelope's ID.
func releaseID(req *Request) string {
	key := req.Trigger
	if key == "" {
		key = req.EnvelopeID
	}
	sum := sha256.Sum256([]byte(req.Team + "/" + key))
	return "sl-" + hex.EncodeToString(sum[:10])
}
