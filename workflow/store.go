package workflow

import (
	"context"
	"time"
)

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
