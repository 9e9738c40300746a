package store

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// Memory is a workflow.Store in process memory. It is safe for concurrent
// use; every method holds one mutex, which makes each atomic as the port
// requires. TTLs follow the injected clock. State dies with the process.
type Memory struct {
	clock workflow.Clock

	mu        sync.Mutex
	leases    map[string]workflow.Lease
	fences    map[string]int64
	queues    map[string][]queued
	occupants map[string][]workflow.Occupant
	holds     map[string]workflow.Hold
	deploys   map[string]workflow.Deployment
	releases  map[string]*workflow.Release
	events    map[string][]workflow.Event // oldest first
	claims    map[string]time.Time        // key → expiry
	approvals map[string]*workflow.ApprovalRequest
	messages  map[string]messageRef
	epoch     string
	tenures   map[string]map[workflow.TicketKey]workflow.Tenure // env → ticket → tenure
}

type queued struct {
	entry    workflow.QueueEntry
	deadline time.Time
}

var _ workflow.Store = (*Memory)(nil)

// NewMemory returns an empty store; a nil clock is the system clock.
func NewMemory(clock workflow.Clock) *Memory {
	if clock == nil {
		clock = workflow.SystemClock{}
	}
	return &Memory{
		clock:     clock,
		leases:    map[string]workflow.Lease{},
		fences:    map[string]int64{},
		queues:    map[string][]queued{},
		occupants: map[string][]workflow.Occupant{},
		holds:     map[string]workflow.Hold{},
		deploys:   map[string]workflow.Deployment{},
		releases:  map[string]*workflow.Release{},
		events:    map[string][]workflow.Event{},
		claims:    map[string]time.Time{},
	}
}

// live reports whether a deadline is still ahead.
func live(deadline, now time.Time) bool { return now.Before(deadline) }

// lease returns env's live lease. Callers hold mu.
func (m *Memory) lease(env string, now time.Time) (workflow.Lease, bool) {
	l, ok := m.leases[env]
	if ok && !live(l.Expires, now) {
		delete(m.leases, env)
		return workflow.Lease{}, false
	}
	return l, ok
}

// AcquireLease implements workflow.Leases.
func (m *Memory) AcquireLease(ctx context.Context, env string, want workflow.Lease, ttl time.Duration) (workflow.Lease, bool, error) {
	if err := ctx.Err(); err != nil {
		return workflow.Lease{}, false, unavailable("store.lease", err)
	}
	if want.Token == "" || ttl <= 0 {
		return workflow.Lease{}, false, workflow.Errorf("store.lease", workflow.Invalid, "a lease needs an owner token and a positive TTL")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	if cur, ok := m.lease(env, now); ok {
		return cur, cur.Token == want.Token, nil
	}
	m.fences[env]++
	want.Env = env
	want.Fence = m.fences[env]
	want.Acquired = now
	want.Expires = now.Add(ttl)
	m.leases[env] = want
	return want, true, nil
}

// RenewLease implements workflow.Leases.
func (m *Memory) RenewLease(ctx context.Context, env, token string, ttl time.Duration) (workflow.Lease, error) {
	if err := ctx.Err(); err != nil {
		return workflow.Lease{}, unavailable("store.lease", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	l, ok := m.lease(env, now)
	if !ok || l.Token != token {
		return workflow.Lease{}, workflow.ErrLeaseLost
	}
	l.Expires = now.Add(ttl)
	m.leases[env] = l
	return l, nil
}

// ReleaseLease implements workflow.Leases.
func (m *Memory) ReleaseLease(ctx context.Context, env, token string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, unavailable("store.lease", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.lease(env, m.clock.Now())
	if !ok || l.Token != token {
		return false, nil
	}
	delete(m.leases, env)
	return true, nil
}

// CurrentLease implements workflow.Leases.
func (m *Memory) CurrentLease(ctx context.Context, env string) (workflow.Lease, bool, error) {
	if err := ctx.Err(); err != nil {
		return workflow.Lease{}, false, unavailable("store.lease", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.lease(env, m.clock.Now())
	return l, ok, nil
}

// holdsLease reports whether l is its env's current lease. Callers hold mu.
func (m *Memory) holdsLease(l workflow.Lease) bool {
	cur, ok := m.lease(l.Env, m.clock.Now())
	return ok && cur.Token == l.Token && cur.Fence == l.Fence
}

// queue returns env's live queue, dropping expired entries. Callers hold mu.
func (m *Memory) queue(env string, now time.Time) []queued {
	q := slices.DeleteFunc(m.queues[env], func(e queued) bool { return !live(e.deadline, now) })
	m.queues[env] = q
	return q
}

func position(q []queued, id string) int {
	for i, e := range q {
		if e.entry.ID == id {
			return i + 1
		}
	}
	return 0
}

// Enqueue implements workflow.Queues.
func (m *Memory) Enqueue(ctx context.Context, env string, e workflow.QueueEntry, ttl time.Duration) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, unavailable("store.queue", err)
	}
	if e.ID == "" || ttl <= 0 {
		return 0, workflow.Errorf("store.queue", workflow.Invalid, "a queue entry needs an ID and a positive TTL")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	q := m.queue(env, now)
	if p := position(q, e.ID); p > 0 {
		q[p-1].deadline = now.Add(ttl)
		return p, nil
	}
	e.Enqueued = now
	m.queues[env] = append(q, queued{entry: e, deadline: now.Add(ttl)})
	return len(m.queues[env]), nil
}

// TouchQueued implements workflow.Queues.
func (m *Memory) TouchQueued(ctx context.Context, env, id string, ttl time.Duration) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, unavailable("store.queue", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	q := m.queue(env, now)
	p := position(q, id)
	if p > 0 {
		q[p-1].deadline = now.Add(ttl)
	}
	return p, nil
}

// QueuePosition implements workflow.Queues.
func (m *Memory) QueuePosition(ctx context.Context, env, id string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, unavailable("store.queue", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return position(m.queue(env, m.clock.Now()), id), nil
}

// Queue implements workflow.Queues.
func (m *Memory) Queue(ctx context.Context, env string) ([]workflow.QueueEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable("store.queue", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.queue(env, m.clock.Now())
	out := make([]workflow.QueueEntry, len(q))
	for i, e := range q {
		out[i] = e.entry
	}
	return out, nil
}

// Dequeue implements workflow.Queues.
func (m *Memory) Dequeue(ctx context.Context, env string) (workflow.QueueEntry, bool, error) {
	if err := ctx.Err(); err != nil {
		return workflow.QueueEntry{}, false, unavailable("store.queue", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.queue(env, m.clock.Now())
	if len(q) == 0 {
		return workflow.QueueEntry{}, false, nil
	}
	m.queues[env] = q[1:]
	return q[0].entry, true, nil
}

// RemoveQueued implements workflow.Queues.
func (m *Memory) RemoveQueued(ctx context.Context, env, id string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, unavailable("store.queue", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.queue(env, m.clock.Now())
	p := position(q, id)
	if p == 0 {
		return false, nil
	}
	m.queues[env] = slices.Delete(q, p-1, p)
	return true, nil
}

// Occupants implements workflow.EnvState.
func (m *Memory) Occupants(ctx context.Context, env string) ([]workflow.Occupant, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable("store.occupants", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.occupants[env]), nil
}

// SetOccupants implements workflow.EnvState.
func (m *Memory) SetOccupants(ctx context.Context, l workflow.Lease, occupants []workflow.Occupant) error {
	if err := ctx.Err(); err != nil {
		return unavailable("store.occupants", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.holdsLease(l) {
		return workflow.ErrLeaseLost
	}
	m.occupants[l.Env] = slices.Clone(occupants)
	return nil
}

// Hold implements workflow.EnvState.
func (m *Memory) Hold(ctx context.Context, env string) (workflow.Hold, bool, error) {
	if err := ctx.Err(); err != nil {
		return workflow.Hold{}, false, unavailable("store.hold", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.holds[env]
	if ok && !h.Until.IsZero() && !live(h.Until, m.clock.Now()) {
		delete(m.holds, env)
		return workflow.Hold{}, false, nil
	}
	return h, ok, nil
}

// SetHold implements workflow.EnvState.
func (m *Memory) SetHold(ctx context.Context, h workflow.Hold) error {
	if err := ctx.Err(); err != nil {
		return unavailable("store.hold", err)
	}
	if h.Env == "" {
		return workflow.Errorf("store.hold", workflow.Invalid, "a hold needs an env")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.holds[h.Env] = h
	return nil
}

// ClearHold implements workflow.EnvState.
func (m *Memory) ClearHold(ctx context.Context, env string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, unavailable("store.hold", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.holds[env]
	delete(m.holds, env)
	return ok && (h.Until.IsZero() || live(h.Until, m.clock.Now())), nil
}

// LastDeploy implements workflow.EnvState.
func (m *Memory) LastDeploy(ctx context.Context, env string) (workflow.Deployment, bool, error) {
	if err := ctx.Err(); err != nil {
		return workflow.Deployment{}, false, unavailable("store.deploy", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.deploys[env]
	d.Result.Stacks = slices.Clone(d.Result.Stacks)
	return d, ok, nil
}

// SetLastDeploy implements workflow.EnvState.
func (m *Memory) SetLastDeploy(ctx context.Context, l workflow.Lease, d workflow.Deployment) error {
	if err := ctx.Err(); err != nil {
		return unavailable("store.deploy", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.holdsLease(l) {
		return workflow.ErrLeaseLost
	}
	d.Env = l.Env
	d.Result.Stacks = slices.Clone(d.Result.Stacks)
	m.deploys[l.Env] = d
	return nil
}

// CreateRelease implements workflow.Releases.
func (m *Memory) CreateRelease(ctx context.Context, r workflow.Release) error {
	if err := ctx.Err(); err != nil {
		return unavailable("store.release", err)
	}
	if r.ID == "" {
		return workflow.Errorf("store.release", workflow.Invalid, "a release needs an ID")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.releases[r.ID]; ok {
		return workflow.Errorf("store.release", workflow.Invalid, "release %s exists already", r.ID)
	}
	r.Steps = slices.Clone(r.Steps)
	m.releases[r.ID] = &r
	return nil
}

// GetRelease implements workflow.Releases.
func (m *Memory) GetRelease(ctx context.Context, id string) (workflow.Release, error) {
	if err := ctx.Err(); err != nil {
		return workflow.Release{}, unavailable("store.release", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.releases[id]
	if !ok {
		return workflow.Release{}, notFound(id)
	}
	out := *r
	out.Steps = slices.Clone(r.Steps)
	return out, nil
}

// AppendStep implements workflow.Releases.
func (m *Memory) AppendStep(ctx context.Context, id string, s workflow.Step) error {
	if err := ctx.Err(); err != nil {
		return unavailable("store.release", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.releases[id]
	if !ok {
		return notFound(id)
	}
	r.Steps = append(r.Steps, s)
	return nil
}

// UpdateRelease implements workflow.Releases.
func (m *Memory) UpdateRelease(ctx context.Context, id string, u workflow.ReleaseUpdate) error {
	if err := ctx.Err(); err != nil {
		return unavailable("store.release", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.releases[id]
	if !ok {
		return notFound(id)
	}
	if !u.Allowed(r.State) {
		return workflow.StateMovedError("store.release", id, r.State, u)
	}
	u.Apply(r)
	return nil
}

// AppendEvent implements workflow.AuditLog.
func (m *Memory) AppendEvent(ctx context.Context, e workflow.Event) error {
	if err := ctx.Err(); err != nil {
		return unavailable("store.audit", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	evs := append(m.events[e.Env], e)
	if over := len(evs) - workflow.AuditKeep; over > 0 {
		evs = slices.Delete(evs, 0, over)
	}
	m.events[e.Env] = evs
	return nil
}

// Events implements workflow.AuditLog.
func (m *Memory) Events(ctx context.Context, env string, n int) ([]workflow.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable("store.audit", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	evs := m.events[env]
	if n <= 0 || n > len(evs) {
		n = len(evs)
	}
	out := make([]workflow.Event, n)
	for i := range out {
		out[i] = evs[len(evs)-1-i]
	}
	return out, nil
}

// Claim implements workflow.Claims.
func (m *Memory) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, unavailable("store.claim", err)
	}
	if key == "" || ttl <= 0 {
		return false, workflow.Errorf("store.claim", workflow.Invalid, "a claim needs a key and a positive TTL")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	if exp, ok := m.claims[key]; ok && live(exp, now) {
		return false, nil
	}
	if len(m.claims) > 4096 {
		for k, exp := range m.claims {
			if !live(exp, now) {
				delete(m.claims, k)
			}
		}
	}
	m.claims[key] = now.Add(ttl)
	return true, nil
}

func unavailable(op string, err error) error {
	return workflow.Wrap(op, workflow.Unavailable, "the store did not answer", err)
}

func notFound(id string) error {
	return workflow.Errorf("store.release", workflow.NotFound, "there is no release %s", id)
}

// Epoch implements workflow.Epochs: a memory store's epoch is made on
// first use and lives as long as the process.
func (m *Memory) Epoch(ctx context.Context) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.epoch != "" {
		return m.epoch, false, nil
	}
	m.epoch = newEpoch()
	return m.epoch, true, nil
}
