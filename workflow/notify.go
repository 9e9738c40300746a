package workflow

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Notifier tells people how a release goes and what happens to their
// envs: the Slack bot posts and edits a message with a thread, DMs owners
// and approvers; the CLI prints lines. It is one interface for every
// notice: an implementation embeds NopNotifier and overrides the notices
// it gives. The workflow calls it once the release is recorded; errors
// before that are only returned. A Notifier's errors are logged and never
// stop a release or a lifecycle change.
type Notifier interface {
	// Queued says the release waits: its position, and who holds the env.
	Queued(ctx context.Context, r Release, w Waiting) error
	// Started says the release holds the env's lease and works.
	Started(ctx context.Context, r Release) error
	// Progress reports one journal step.
	Progress(ctx context.Context, r Release, s Step) error
	// Conflict reports a merge that conflicts; nothing was pushed.
	Conflict(ctx context.Context, r Release, c ConflictReport) error
	// Released announces a finished release and who else is in the env.
	Released(ctx context.Context, a Announcement) error
	// Failed reports a release that stopped; err carries a user message
	// (UserMessage) and a Kind.
	Failed(ctx context.Context, r Release, err error) error
	// ReleaseLink returns a link to a release's conversation, such as the
	// Slack thread of its message; "" when there is none.
	ReleaseLink(ctx context.Context, r Release) string

	// YourTurn tells a requester who waited that their release started.
	YourTurn(ctx context.Context, r Release) error
	// ApprovalRequested asks the approvers of a prod release, with
	// Approve/Reject buttons carrying a.ID.
	ApprovalRequested(ctx context.Context, a ApprovalRequest, p Preview) error
	// ApprovalChanged reports a vote or the end of a request.
	ApprovalChanged(ctx context.Context, a ApprovalRequest) error
	// EnvChanged tells an env's people what happened to it (a reset,
	// remove, hold, unhold or cancel).
	EnvChanged(ctx context.Context, c EnvChange) error

	// Remind tells the owner their ticket expires soon, with Keep and
	// Remove buttons carrying the env, ticket and release.
	Remind(ctx context.Context, r Reminder) error
	// OccupancyNotice tells the env's channel (and the owner) about an
	// expiry that failed or waits, or a Keep refused.
	OccupancyNotice(ctx context.Context, n OccupancyNotice) error
}

// NopNotifier tells nobody anything. Embedded in a Notifier, it answers
// the notices that Notifier does not give.
type NopNotifier struct{}

var _ Notifier = NopNotifier{}

func (NopNotifier) Queued(context.Context, Release, Waiting) error                    { return nil }
func (NopNotifier) Started(context.Context, Release) error                            { return nil }
func (NopNotifier) Progress(context.Context, Release, Step) error                     { return nil }
func (NopNotifier) Conflict(context.Context, Release, ConflictReport) error           { return nil }
func (NopNotifier) Released(context.Context, Announcement) error                      { return nil }
func (NopNotifier) Failed(context.Context, Release, error) error                      { return nil }
func (NopNotifier) ReleaseLink(context.Context, Release) string                       { return "" }
func (NopNotifier) YourTurn(context.Context, Release) error                           { return nil }
func (NopNotifier) ApprovalRequested(context.Context, ApprovalRequest, Preview) error { return nil }
func (NopNotifier) ApprovalChanged(context.Context, ApprovalRequest) error            { return nil }
func (NopNotifier) EnvChanged(context.Context, EnvChange) error                       { return nil }
func (NopNotifier) Remind(context.Context, Reminder) error                            { return nil }
func (NopNotifier) OccupancyNotice(context.Context, OccupancyNotice) error            { return nil }

// told logs the error of a notice the Service gave about what, and
// returns it; a notice never stops what it tells of.
func (s *Service) told(what string, err error) error {
	if err != nil {
		s.log.Warn("notify", slog.String("what", what), slog.Any("err", err))
	}
	return err
}

// Waiting is why a release is queued.
type Waiting struct {
	Position int    // 1-based place in the env's queue
	Holder   *Lease // the release holding the env, if any
	Hold     *Hold  // the env's hold, if any
}

// Announcement is a finished release.
type Announcement struct {
	Release   Release
	Env       Env
	Ticket    Ticket
	Occupants []Occupant // everyone now in the env, this ticket included
	Others    []Occupant // the occupants other than this ticket: to mention
	Graduated []Occupant // occupants that left because they are in master
	Deploy    DeployResult
}

// ConflictStage says which merge conflicted.
type ConflictStage string

// Conflict stages.
const (
	// ConflictSync: merging master into the env branch conflicts; the env
	// needs a reset.
	ConflictSync ConflictStage = "sync"
	// ConflictTicket: merging the ticket into the env branch conflicts with
	// what other occupants brought in.
	ConflictTicket ConflictStage = "ticket"
)

// ConflictReport says what conflicts and whose work it meets. It is also
// an error, wrapped by the Conflict error Release returns.
type ConflictReport struct {
	Stage    ConflictStage
	Ticket   TicketKey
	Env      string
	Ours     string // the env branch
	Theirs   string // the branch merged into it
	Files    []FileConflict
	Culprits []Culprit // occupants whose commits touched the conflicting files
	Hint     string    // what the user can do
}

// Culprit is an occupant whose commits touched conflicting files.
type Culprit struct {
	Occupant Occupant
	Files    []string // the conflicting files it touched, sorted
	Commits  []Commit // its commits that touched them, newest first
}

// Paths returns the conflicting paths.
func (c *ConflictReport) Paths() []string {
	p := make([]string, len(c.Files))
	for i, f := range c.Files {
		p[i] = f.Path
	}
	return p
}

func (c *ConflictReport) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "merging %s into %s conflicts in %s", c.Theirs, c.Ours, strings.Join(c.Paths(), ", "))
	for i, cu := range c.Culprits {
		if i == 0 {
			b.WriteString(" (touched by ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s of %s", cu.Occupant.Ticket, cu.Occupant.By)
		if i == len(c.Culprits)-1 {
			b.WriteString(")")
		}
	}
	return b.String()
}
