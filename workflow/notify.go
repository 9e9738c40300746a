package workflow

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

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
func (NopNotifier) SoakOverridden(context.Context, Release, SoakReport) error         { return nil }
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
	// RollbackOf is the release a production rollback undid ("" for a
	// release): the env runs an earlier commit again.
	RollbackOf string
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
