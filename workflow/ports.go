package workflow

import (
	"context"
	"errors"
	"time"
)

// The workflow's ports: every interface it needs of the world outside, in
// this file, each implemented by an adapter (integrations/gitrepo and
// jira, deploy, store, bot, the CLI) and most by a fake in workflowtest.
// The values they carry are declared beside the code that uses them;
// Repo's are below it.

// Repo is the infra repository as the workflow needs it. The gitrepo
// adapter implements it on a cached bare mirror of the remote.
// SHAs are full lowercase hex object names.
type Repo interface {
	// Fetch brings the mirror up to date with the remote (branches only).
	Fetch(ctx context.Context) error
	// ResolveTicket finds the one branch of a ticket: the branch named
	// exactly like the key, else the single branch whose name contains the
	// key as a word (feature/JIRA-123-foo). None gives a NotFound error,
	// several an Invalid error listing the candidates.
	ResolveTicket(ctx context.Context, key TicketKey) (Branch, error)
	// Tip returns the SHA of a branch; ok is false when it does not exist.
	Tip(ctx context.Context, branch string) (sha string, ok bool, err error)
	// IsAncestor reports whether commit a is reachable from commit b.
	IsAncestor(ctx context.Context, a, b string) (bool, error)
	// Merge merges theirs into ours in memory and writes a merge commit
	// (parents ours, theirs) when clean. It pushes nothing. When ours
	// already contains theirs it returns SHA == ours and UpToDate true.
	Merge(ctx context.Context, req MergeRequest) (MergeOutcome, error)
	// CommitTree writes a commit whose only parent is req.Parent and whose
	// tree is req.TreeOf's (a rollback: TreeOf is an earlier commit of
	// Parent's history), and returns its SHA. It pushes nothing.
	CommitTree(ctx context.Context, req CommitRequest) (string, error)
	// Push moves branch on the remote from old (""= must not exist) to new,
	// as a compare-and-swap. A lost race returns an error of kind Busy that
	// wraps ErrRefMoved; nothing else is changed.
	Push(ctx context.Context, branch, old, new string) error
	// Log lists the commits reachable from tip and not from base, newest
	// first, with the files each changed (used for occupancy and conflict
	// attribution).
	Log(ctx context.Context, base, tip string) ([]Commit, error)
}

// ErrRefMoved is wrapped by Repo.Push when the remote branch is not at the
// expected commit any more.
var ErrRefMoved = &Error{Op: "git.push", Kind: Busy, Msg: "the branch moved on the remote while we were merging"}

// Branch is a ticket's branch.
type Branch struct {
	Name string
	SHA  string
}

// MergeRequest asks the Repo for a merge commit.
type MergeRequest struct {
	Ours, Theirs           string // SHAs
	OursLabel, TheirsLabel string // branch names for messages and markers
	Message                string // commit message, trailers included
	Author                 string // who asked, for the commit's author name
	When                   time.Time
}

// CommitRequest asks the Repo for a commit with another commit's tree.
type CommitRequest struct {
	Parent, TreeOf string // SHAs
	Message        string // commit message, trailers included
	Author         string // who asked, for the commit's author name
	When           time.Time
}

// MergeOutcome is what a merge produced.
type MergeOutcome struct {
	SHA       string         // the merge commit (or ours when UpToDate); empty on conflicts
	UpToDate  bool           // theirs was already in ours: nothing to do
	Conflicts []FileConflict // non-empty when the merge conflicts; nothing was written then
}

// FileConflict is one conflicted file, for the user.
type FileConflict struct {
	Path  string
	Kind  string // git's wording: content, modify/delete, rename/delete, add/add, ...
	Hunks []ConflictHunk
}

// ConflictHunk is one conflicting region, with 1-based line ranges and the
// lines of both sides (capped by the adapter).
type ConflictHunk struct {
	OursStart, OursLines     int
	TheirsStart, TheirsLines int
	Ours, Theirs             []string
}

// Commit is one commit in a Log.
type Commit struct {
	SHA     string
	Parents []string
	Author  string
	When    time.Time
	Subject string
	Message string
	Files   []string // paths changed against the first parent
}

// Tickets looks tickets up in the tracker. Lookup returns a NotFound error
// for a ticket that does not exist (or that the bot cannot see) and an
// Unavailable error when the tracker cannot be reached.
type Tickets interface {
	Lookup(ctx context.Context, key TicketKey) (Ticket, error)
}

// TicketRecorder writes what a release did back to its ticket, so that the
// ticket tells where its code runs: the Jira adapter comments and upserts a
// link per env. It is called after the release is decided; its failures
// are reported and never change the release's outcome.
type TicketRecorder interface {
	// Record writes n to the tracker. It returns a one-line account of what
	// it did and an error (with a user message) for what it could not do;
	// both may be set when some of the write-back worked.
	Record(ctx context.Context, n TicketNote) (done string, err error)
}

// TicketCommenter writes a comment on a ticket (Jira); Deps.Commenter.
type TicketCommenter interface {
	Comment(ctx context.Context, key TicketKey, text string) error
}

// Deployer deploys a commit of the infra repo to an env. A deploy that ran
// and failed returns a result with status failed and a nil error; the error
// is for a deploy that could not run (credentials, account guard, the
// cloud unreachable).
type Deployer interface {
	Deploy(ctx context.Context, env Env, sha string, progress Progress) (DeployResult, error)
}

// Planner is implemented by Deployers that can tell what a deploy would
// change without changing anything (CloudFormation change sets). The prod
// preview uses it when the Deployer offers it.
type Planner interface {
	Plan(ctx context.Context, env Env, sha string) (DeployPlan, error)
}

// ErrNoPlan is what a Planner returns for an env it cannot plan (e.g. one
// that is not deployed to AWS): the preview then has no plan, and no error.
var ErrNoPlan = errors.New("this env has no deploy plan")

// Inspector reads what is deployed in an env's cloud. A Deployer that can
// (the AWS one) implements it too; diff and drift need it.
type Inspector interface {
	// Deployed lists the stacks sha's deploy spec has for env, each with
	// what its tags say it was last deployed from.
	Deployed(ctx context.Context, env Env, sha string) ([]DeployedStack, error)
	// Drift runs drift detection on the stacks sha's deploy spec has for
	// env and reports the resources changed outside the deploys.
	Drift(ctx context.Context, env Env, sha string) ([]StackDrift, error)
}

// Store keeps the workflow's shared state so that any replica can run any
// job. Every method is one atomic operation on the backing store (in Redis:
// one command, a MULTI, or one Lua script), so no method needs a lock held
// across calls. Methods return an Unavailable error when the store cannot be
// reached. Store is the union of the small interfaces below; use cases take
// the part they need.
type Store interface {
	Leases
	Queues
	EnvState
	Releases
	AuditLog
	Claims
	Approvals
	MessageRefs
	Epochs
	Tenures
}

// Epochs: noticing a store that lost its data (a Redis restarted empty,
// FLUSHALL). Git stays the truth of what is in each env; the workflow
// rebuilds the occupants from it when the epoch changes.
type Epochs interface {
	// Epoch returns the store's epoch: a random value the store writes
	// once (SET NX), when it is first asked for it while it has none —
	// a new store, or one that lost its data. created is true for the
	// call that wrote it. The value stays the same for as long as the
	// store keeps its data.
	Epoch(ctx context.Context) (epoch string, created bool, err error)
}

// ErrLeaseLost is returned by lease-guarded writes and by RenewLease when
// the caller's lease expired or was taken by another holder.
var ErrLeaseLost = &Error{Op: "store.lease", Kind: Busy, Msg: "the env's lease was lost (it expired or another release took it)"}

// Leases: one release at a time per env.
type Leases interface {
	// AcquireLease takes env's lease for want.Token if nobody holds it
	// (SET NX PX). On success it returns the lease as stored: Env, a Fence
	// greater than any earlier fence of env, Acquired and Expires set, the
	// other fields copied from want. When want.Token holds it already, the
	// lease is returned unchanged with ok true. When another token holds
	// it, ok is false and the returned lease is the holder's.
	AcquireLease(ctx context.Context, env string, want Lease, ttl time.Duration) (l Lease, ok bool, err error)
	// RenewLease extends the lease held by token to now+ttl. It returns
	// ErrLeaseLost when token does not hold env's lease.
	RenewLease(ctx context.Context, env, token string, ttl time.Duration) (Lease, error)
	// ReleaseLease deletes env's lease if token holds it (compare and
	// delete) and reports whether it did.
	ReleaseLease(ctx context.Context, env, token string) (bool, error)
	// CurrentLease returns env's live lease; ok is false when free.
	CurrentLease(ctx context.Context, env string) (l Lease, ok bool, err error)
}

// Queues: a FIFO queue of releases waiting per env. Positions are 1-based;
// 0 means "not queued". Entries carry a deadline (JobTTL) so that a job
// nobody runs does not block the queue forever: the worker that starts a
// job extends it with TouchQueued.
type Queues interface {
	// Enqueue appends e (Enqueued set by the store) to env's queue, or, when
	// an entry with e.ID is queued already, keeps its place. Either way the
	// entry's deadline becomes now+ttl. It returns the entry's position.
	Enqueue(ctx context.Context, env string, e QueueEntry, ttl time.Duration) (pos int, err error)
	// TouchQueued extends entry id's deadline to now+ttl and returns its
	// position, or 0 when it is not queued (expired or removed) — it never
	// adds it back.
	TouchQueued(ctx context.Context, env, id string, ttl time.Duration) (pos int, err error)
	// QueuePosition returns entry id's position, 0 when not queued.
	QueuePosition(ctx context.Context, env, id string) (int, error)
	// Queue lists env's live entries, head first.
	Queue(ctx context.Context, env string) ([]QueueEntry, error)
	// Dequeue removes and returns the head of env's queue; ok is false when
	// the queue is empty.
	Dequeue(ctx context.Context, env string) (e QueueEntry, ok bool, err error)
	// RemoveQueued removes entry id wherever it is and reports whether it
	// was queued.
	RemoveQueued(ctx context.Context, env, id string) (bool, error)
}

// EnvState: occupants, hold and last deploy of each env. Writes that
// change what an env runs are fenced: they succeed only while l is env's
// current lease (same token and fence, not expired), else ErrLeaseLost.
type EnvState interface {
	// Occupants returns env's occupants in the order they came in.
	Occupants(ctx context.Context, env string) ([]Occupant, error)
	// SetOccupants replaces l.Env's occupants.
	SetOccupants(ctx context.Context, l Lease, occupants []Occupant) error
	// Hold returns env's hold; ok is false when there is none or it ended.
	Hold(ctx context.Context, env string) (h Hold, ok bool, err error)
	// SetHold holds h.Env until h.Until (zero: until cleared).
	SetHold(ctx context.Context, h Hold) error
	// ClearHold lifts env's hold and reports whether there was one.
	ClearHold(ctx context.Context, env string) (bool, error)
	// LastDeploy returns env's last deploy; ok is false when none.
	LastDeploy(ctx context.Context, env string) (d Deployment, ok bool, err error)
	// SetLastDeploy records l.Env's last deploy.
	SetLastDeploy(ctx context.Context, l Lease, d Deployment) error
}

// Releases: release records and their step journals.
type Releases interface {
	// CreateRelease stores a new record; a record with r.ID already
	// existing gives an Invalid error.
	CreateRelease(ctx context.Context, r Release) error
	// GetRelease returns a record with its journal; NotFound if none.
	GetRelease(ctx context.Context, id string) (Release, error)
	// AppendStep appends s to release id's journal; NotFound if none.
	AppendStep(ctx context.Context, id string, s Step) error
	// UpdateRelease applies u (see ReleaseUpdate.Apply); NotFound if none.
	UpdateRelease(ctx context.Context, id string, u ReleaseUpdate) error
}

// AuditKeep is how many audit events a Store keeps per env; older ones are
// dropped as new ones arrive.
const AuditKeep = 1000

// AuditLog: the capped audit trail per env.
type AuditLog interface {
	// AppendEvent appends e to e.Env's trail, keeping the newest AuditKeep.
	AppendEvent(ctx context.Context, e Event) error
	// Events returns env's newest n events, newest first; n <= 0 means all
	// kept.
	Events(ctx context.Context, env string, n int) ([]Event, error)
}

// Claims: idempotency keys for redelivered envelopes and repeated clicks.
type Claims interface {
	// Claim records key for ttl (SET NX PX). claimed is true for the first
	// caller only, until the key expires.
	Claim(ctx context.Context, key string, ttl time.Duration) (claimed bool, err error)
}

// Approvals keeps prod approval requests and their votes; every method is
// atomic. Requests are kept at least until they expire (implementations
// may keep them a while longer for the record).
type Approvals interface {
	// CreateApproval stores a new pending request; an ID that exists
	// already gives an Invalid error.
	CreateApproval(ctx context.Context, a ApprovalRequest) error
	// GetApproval returns a request with its votes; NotFound if none.
	GetApproval(ctx context.Context, id string) (ApprovalRequest, error)
	// AddVote records v on request id when the request is pending and
	// v.User has not voted on it yet, and returns the request as it is
	// after (recorded false when nothing changed). NotFound if none.
	AddVote(ctx context.Context, id string, v Vote) (a ApprovalRequest, recorded bool, err error)
	// CloseApproval ends request id with state (not Pending) and reason
	// when it is still pending, and returns it as it is after (closed
	// false when it had ended already). NotFound if none.
	CloseApproval(ctx context.Context, id string, state ApprovalState, reason string, at time.Time) (a ApprovalRequest, closed bool, err error)
}

// Tenures keeps the extensions of the tickets in each env. In Redis: one
// hash per env, under the env's hash tag.
type Tenures interface {
	// Tenures returns env's tenures by ticket.
	Tenures(ctx context.Context, env string) (map[TicketKey]Tenure, error)
	// Extend adds one extension to ticket's tenure in env for release
	// releaseID (a tenure of another release counts as none) when it has
	// exactly from extensions and fewer than max; otherwise ok is false
	// and t is the tenure as it stands. A compare-and-set: of concurrent
	// calls with the same from, one wins, and none passes max.
	Extend(ctx context.Context, env string, ticket TicketKey, releaseID string, from, max int) (t Tenure, ok bool, err error)
	// DropTenures forgets the tenures of tickets that left env.
	DropTenures(ctx context.Context, env string, tickets ...TicketKey) error
}

// MessageRefs keeps MessageRefs by key (a release or approval request ID
// with the adapter's prefix) for a bounded time.
type MessageRefs interface {
	// PutMessageRef stores ref under key for ttl, replacing what was
	// there (SET PX).
	PutMessageRef(ctx context.Context, key string, ref MessageRef, ttl time.Duration) error
	// GetMessageRef returns key's ref; ok is false when there is none or
	// it expired.
	GetMessageRef(ctx context.Context, key string) (ref MessageRef, ok bool, err error)
}

// Clock tells the time; tests pass a fake one.
type Clock interface {
	Now() time.Time
}

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
	// SoakOverridden tells a release's thread that its soak gate was
	// overridden: by whom, why, and which tickets were short of it.
	SoakOverridden(ctx context.Context, r Release, report SoakReport) error
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
