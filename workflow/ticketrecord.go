package workflow

import (
	"context"
	"log/slog"
	"time"
)

// StepTicket is the journal step that reports what was written back to the
// ticket (Detail: what was done, or what could not be).
const StepTicket = "ticket"

// TicketNote is what a release leaves on its ticket.
type TicketNote struct {
	Release Release // the record as it ends (released or failed)
	Env     Env
	Ticket  Ticket
	SHA     string       // the commit now in the env (deployed, else pushed, else built)
	Deploy  DeployResult // the deploy's result; zero when it did not finish
	Failure string       // the user message of a failed release; "" when released
	Link    string       // the release's conversation (the Slack thread); "" when unknown
	// RollbackOf is the release a production rollback undid: the ticket's
	// code left the env (SHA is the earlier commit it runs again).
	RollbackOf string
}

// RecordTickets returns a Notifier that passes every call to next and
// then writes finished releases back to their tickets through rec: after
// Released, and after Failed when the release reached the env (it pushed,
// or a deploy started). Conflicts and refusals left nothing in the env and
// are not written back. What rec did, or why it could not, is reported to
// next as a StepTicket progress step and logged; write-back never fails
// the release. timeout bounds each write-back (default 30s).
func RecordTickets(log *slog.Logger, next Notifier, rec TicketRecorder, timeout time.Duration) Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &recordingNotifier{log: log, Notifier: next, rec: rec, timeout: timeout}
}

// recordingNotifier is the Notifier decorator of RecordTickets.
type recordingNotifier struct {
	Notifier
	log     *slog.Logger
	rec     TicketRecorder
	timeout time.Duration
}

// Released announces through next, then records the release on the ticket.
func (n *recordingNotifier) Released(ctx context.Context, a Announcement) error {
	err := n.Notifier.Released(ctx, a)
	n.record(ctx, TicketNote{
		Release: a.Release, Env: a.Env, Ticket: a.Ticket,
		SHA: firstNonEmpty(a.Release.DeployedSHA, a.Deploy.SHA, a.Release.PushedSHA, a.Release.MergedSHA), Deploy: a.Deploy,
		RollbackOf: a.RollbackOf,
	})
	return err
}

// Failed reports through next, then records the failure on the ticket when
// the release had reached the env.
func (n *recordingNotifier) Failed(ctx context.Context, r Release, err error) error {
	nerr := n.Notifier.Failed(ctx, r, err)
	if r.PushedSHA == "" && !r.HasStep(StepDeploying) {
		return nerr
	}
	msg := UserMessage(err)
	if msg == "" {
		msg = "internal error, logged with release " + r.ID
	}
	of, _, _ := r.RollbackOf()
	n.record(ctx, TicketNote{
		Release: r, Env: Env{Name: r.Env}, Ticket: Ticket{Key: r.Ticket},
		SHA: firstNonEmpty(r.DeployedSHA, r.PushedSHA, r.MergedSHA), Failure: msg, RollbackOf: of,
	})
	return nerr
}

func (n *recordingNotifier) record(ctx context.Context, note TicketNote) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.timeout)
	defer cancel()
	note.Link = n.Notifier.ReleaseLink(ctx, note.Release)
	log := n.log.With(slog.String("release", note.Release.ID), slog.String("ticket", string(note.Release.Ticket)))
	done, err := n.rec.Record(ctx, note)
	detail := done
	if err != nil {
		msg := UserMessage(err)
		if msg == "" {
			msg = "internal error"
		}
		if detail != "" {
			detail += "; "
		}
		detail += "not written to " + string(note.Release.Ticket) + ": " + msg
		log.Warn("ticket write-back", slog.String("done", done), slog.Any("err", err))
	}
	if detail == "" {
		return
	}
	st := Step{Name: StepTicket, At: time.Now(), Detail: detail}
	if perr := n.Notifier.Progress(ctx, note.Release, st); perr != nil {
		log.Warn("notify", slog.String("what", "ticket"), slog.Any("err", perr))
	}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
