package workflowtest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// Tickets is a fake workflow.Tickets over a map.
type Tickets struct {
	mu      sync.Mutex
	tickets map[workflow.TicketKey]workflow.Ticket
	err     error
}

// NewTickets returns a tracker holding ts.
func NewTickets(ts ...workflow.Ticket) *Tickets {
	f := &Tickets{tickets: map[workflow.TicketKey]workflow.Ticket{}}
	for _, t := range ts {
		f.Add(t)
	}
	return f
}

// Add adds or replaces a ticket.
func (f *Tickets) Add(t workflow.Ticket) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tickets[t.Key] = t
}

// Fail makes every later Lookup return err (nil heals).
func (f *Tickets) Fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// Lookup implements workflow.Tickets.
func (f *Tickets) Lookup(ctx context.Context, key workflow.TicketKey) (workflow.Ticket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return workflow.Ticket{}, f.err
	}
	t, ok := f.tickets[key]
	if !ok {
		return workflow.Ticket{}, workflow.Errorf("jira.lookup", workflow.NotFound, "there is no ticket %s", key)
	}
	return t, nil
}

// Deployer is a fake workflow.Deployer that records what it deployed.
type Deployer struct {
	mu      sync.Mutex
	deploys []Deploy
	status  workflow.DeployStatus
	err     error
}

// Deploy is one recorded deploy.
type Deploy struct {
	Env string
	SHA string
}

// Deploy implements workflow.Deployer: it reports one step and succeeds,
// unless told otherwise by FailWith.
func (f *Deployer) Deploy(ctx context.Context, env workflow.Env, sha string, progress workflow.Progress) (workflow.DeployResult, error) {
	f.mu.Lock()
	status, err := f.status, f.err
	if err == nil {
		f.deploys = append(f.deploys, Deploy{Env: env.Name, SHA: sha})
	}
	f.mu.Unlock()
	if err != nil {
		return workflow.DeployResult{}, err
	}
	if status == "" {
		status = workflow.DeploySucceeded
	}
	if progress != nil {
		progress(workflow.Step{Name: "stack app-" + env.Name, Detail: "UPDATE_COMPLETE"})
	}
	return workflow.DeployResult{SHA: sha, Status: status, Summary: "1 stack " + string(status),
		Stacks: []workflow.StackResult{{Name: "app-" + env.Name, Status: "UPDATE_COMPLETE"}}}, nil
}

// FailWith makes later deploys end with status (when err is nil) or fail
// to run with err.
func (f *Deployer) FailWith(status workflow.DeployStatus, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.err = status, err
}

// Deploys returns the deploys done, in order.
func (f *Deployer) Deploys() []Deploy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deploys)
}

// Note is one recorded notification.
type Note struct {
	What         string // queued, started, progress, conflict, released, failed
	Release      workflow.Release
	Waiting      workflow.Waiting
	Step         workflow.Step
	Conflict     *workflow.ConflictReport
	Announcement *workflow.Announcement
	Err          error
}

// Notifier is a fake workflow.Notifier that records every call about a
// release's own message (Queued to Failed); the other notices are
// NopNotifier's.
type Notifier struct {
	workflow.NopNotifier
	mu    sync.Mutex
	notes []Note
}

func (n *Notifier) add(note Note) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	note.Release.Steps = slices.Clone(note.Release.Steps)
	n.notes = append(n.notes, note)
	return nil
}

// Queued implements workflow.Notifier.
func (n *Notifier) Queued(_ context.Context, r workflow.Release, w workflow.Waiting) error {
	return n.add(Note{What: "queued", Release: r, Waiting: w})
}

// Started implements workflow.Notifier.
func (n *Notifier) Started(_ context.Context, r workflow.Release) error {
	return n.add(Note{What: "started", Release: r})
}

// Progress implements workflow.Notifier.
func (n *Notifier) Progress(_ context.Context, r workflow.Release, s workflow.Step) error {
	return n.add(Note{What: "progress", Release: r, Step: s})
}

// Conflict implements workflow.Notifier.
func (n *Notifier) Conflict(_ context.Context, r workflow.Release, c workflow.ConflictReport) error {
	return n.add(Note{What: "conflict", Release: r, Conflict: &c})
}

// Released implements workflow.Notifier.
func (n *Notifier) Released(_ context.Context, a workflow.Announcement) error {
	return n.add(Note{What: "released", Release: a.Release, Announcement: &a})
}

// Failed implements workflow.Notifier.
func (n *Notifier) Failed(_ context.Context, r workflow.Release, err error) error {
	return n.add(Note{What: "failed", Release: r, Err: err})
}

// Notes returns the notifications of kind what ("" for all), in order.
func (n *Notifier) Notes(what string) []Note {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Note
	for _, note := range n.notes {
		if what == "" || note.What == what {
			out = append(out, note)
		}
	}
	return out
}

// Clock is a fake workflow.Clock that moves only when told.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now implements workflow.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
