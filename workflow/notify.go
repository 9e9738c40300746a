package workflow

import (
	"context"
	"fmt"
	"strings"
)

// Notifier tells people how a release goes: the Slack bot posts and edits
// a message with a thread, the CLI prints lines. The workflow calls it once
// the release is recorded; errors before that are only returned. A
// Notifier's errors are logged and never stop a release.
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
