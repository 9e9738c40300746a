package workflow

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ReleaseState is where a release stands.
type ReleaseState string

// The release states. Queued and Running are live; the others are final.
const (
	StateQueued   ReleaseState = "queued"   // waiting for the env's lease
	StateRunning  ReleaseState = "running"  // holding the lease, working
	StateReleased ReleaseState = "released" // pushed, deployed, announced
	StateConflict ReleaseState = "conflict" // the merge conflicts; nothing was pushed
	StateRefused  ReleaseState = "refused"  // a rule refused it (not in master, polluted branch, ...)
	StateFailed   ReleaseState = "failed"   // an error stopped it (git, deploy, store, ...)
)

// Final reports whether s is an end state.
func (s ReleaseState) Final() bool {
	return s != StateQueued && s != StateRunning && s != ""
}

// Release is the record of one /release request, kept by the Store with its
// step journal so that any replica can tell what happened.
type Release struct {
	ID          string
	Ticket      TicketKey
	Env         string
	By          string // the requesting user's ID
	Via         string // how they asked: ViaTerminal from the terminal ("" in Slack)
	RequestedAt time.Time
	State       ReleaseState
	UpdatedAt   time.Time
	Steps       []Step // the journal, oldest first
	Branch      string // the ticket's branch, once resolved
	TicketSHA   string // its tip as released
	MergedSHA   string // the env branch commit built (the master SHA for prod)
	PushedSHA   string // the env branch commit pushed ("" when nothing was pushed)
	DeployedSHA string // the commit deployed
	Error       string // the user-facing reason of a final failure
}

// HasStep reports whether the journal has a step called name.
func (r Release) HasStep(name string) bool {
	return slices.ContainsFunc(r.Steps, func(st Step) bool { return st.Name == name })
}

// RollbackOf reads the journal of a production rollback (its
// StepRollbackOf): the release it undoes and the commit it deploys; ok is
// false for a release.
func (r Release) RollbackOf() (of, to string, ok bool) {
	for _, st := range r.Steps {
		if st.Name == StepRollbackOf {
			of, to, ok = strings.Cut(st.Detail, " ")
			return of, to, ok && fullSHA.MatchString(to)
		}
	}
	return "", "", false
}

// Step is one entry of a release's journal.
type Step struct {
	Name   string
	At     time.Time
	Detail string
}

// The journal's step names, in the order a release goes through them.
const (
	StepValidated = "validated"  // env, key, user, ticket checked
	StepQueued    = "queued"     // in the env's queue (Detail: position)
	StepLeased    = "leased"     // holding the env's lease (Detail: fencing number)
	StepResumed   = "resumed"    // a worker took over a job another left (Detail: where it resumes)
	StepHandedOff = "handed-off" // the worker stopped before the job ended; another resumes it
	StepFetched   = "fetched"    // mirror up to date
	StepResolved  = "resolved"   // ticket branch found (Detail: branch@sha)
	StepChecked   = "checked"    // branch is clean of release merges / in master (prod)
	StepCreated   = "created"    // env branch created from master
	StepSynced    = "synced"     // master merged into the env branch
	StepMerged    = "merged"     // ticket merged into the env branch
	StepRetry     = "retry"      // the push lost a race; merging again
	StepPushed    = "pushed"     // env branch pushed with lease
	StepApproval  = "approval"   // prod approval (hook)
	StepOccupied  = "occupied"   // occupants recorded
	StepDeploying = "deploying"  // deploy started; deployer steps follow
	StepDeployed  = "deployed"   // deploy finished (Detail: status)
	StepAnnounced = "announced"  // release announced
	StepFailed    = "failed"     // stopped (Detail: reason)
)

// ReleaseUpdate changes a release record. Empty fields leave the record's
// value unchanged, so that an update is one atomic write of the set fields.
type ReleaseUpdate struct {
	// From, when not empty, is a precondition checked in the same atomic
	// step as the write: the update applies only while the record's state
	// is one of these, else the Store changes nothing and returns a
	// Conflict error wrapping ErrStateMoved. A transition that must win
	// once (a cancel, a worker starting the job) sets it.
	From        []ReleaseState
	State       ReleaseState
	At          time.Time // becomes UpdatedAt
	Branch      string
	TicketSHA   string
	MergedSHA   string
	PushedSHA   string
	DeployedSHA string
	Error       string
}

// ErrStateMoved is the cause of an UpdateRelease refused because the
// record's state is not one of the update's From states.
var ErrStateMoved = errors.New("the release's state changed")

// Allowed reports whether u may apply to a record in state cur: From is
// empty or holds cur. Store implementations check it, atomically with the
// write.
func (u ReleaseUpdate) Allowed(cur ReleaseState) bool {
	return len(u.From) == 0 || slices.Contains(u.From, cur)
}

// StateMovedError is the error a Store returns when u.From does not allow
// the record's state cur.
func StateMovedError(op, id string, cur ReleaseState, u ReleaseUpdate) error {
	return Wrap(op, Conflict, fmt.Sprintf("release %s is %s now, not %s", id, cur, joinStates(u.From)), ErrStateMoved)
}

func joinStates(states []ReleaseState) string {
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = string(s)
	}
	return strings.Join(out, " or ")
}

// Apply applies u to r (without checking From: see Allowed); Store
// implementations use it to keep the same semantics.
func (u ReleaseUpdate) Apply(r *Release) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	if u.State != "" {
		r.State = u.State
	}
	if !u.At.IsZero() {
		r.UpdatedAt = u.At
	}
	set(&r.Branch, u.Branch)
	set(&r.TicketSHA, u.TicketSHA)
	set(&r.MergedSHA, u.MergedSHA)
	set(&r.PushedSHA, u.PushedSHA)
	set(&r.DeployedSHA, u.DeployedSHA)
	set(&r.Error, u.Error)
}

// Occupant is a ticket living in a non-prod env: merged into its branch and
// not yet in master.
type Occupant struct {
	Ticket    TicketKey
	Branch    string // the ticket's branch
	TicketSHA string // the ticket's tip as released
	MergeSHA  string // the env branch merge commit that brought it in
	By        string // user ID of who released it
	At        time.Time
	ReleaseID string
}

// Hold freezes an env: releases queue behind it until it is lifted or ends.
type Hold struct {
	Env    string
	By     string
	Reason string
	At     time.Time
	Until  time.Time // zero: until lifted
}

// QueueEntry is one release waiting for an env.
type QueueEntry struct {
	ID       string // the release ID
	Ticket   TicketKey
	By       string
	Enqueued time.Time // set by the Store
	// Job is true for a release queued by Service.Submit (every release:
	// Service.Release submits too), which any replica's Worker may run.
	// False only for entries queued by older versions, whose requester
	// waited and ran it itself: workers leave an env alone while such a
	// waiter is at the head of its queue.
	Job bool
}

// Lease is the right to change one env, held by one release at a time.
type Lease struct {
	Env       string
	Token     string // the owner token: only its holder may renew or release
	Fence     int64  // strictly increasing per env across acquisitions
	ReleaseID string
	Ticket    TicketKey
	By        string
	Acquired  time.Time
	Expires   time.Time
}

// Event is one entry of the audit trail: who did what, when, with which SHA.
type Event struct {
	At        time.Time
	Env       string
	Action    string // see the Action constants
	Actor     string // user ID, or "code-releaser"
	Ticket    TicketKey
	ReleaseID string
	SHA       string
	Detail    string
	// Status is a deploy event's outcome (ActionDeployed); "" for other
	// events and for deploy events written before it was recorded.
	Status DeployStatus `json:",omitempty"`
}

// Audit actions.
const (
	ActionRequested = "release.requested"
	ActionReleased  = "release.released"
	ActionConflict  = "release.conflict"
	ActionRefused   = "release.refused"
	ActionFailed    = "release.failed"
	ActionDeployed  = "deploy"
	ActionGraduated = "occupant.graduated"
)
