package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// ReleaseRequest is a /release TICKET ENV request, as typed.
type ReleaseRequest struct {
	Ticket string // the key as typed; parsed forgivingly
	Env    string
	User   User
	// ID is the release ID to use, e.g. derived from the Slack envelope so
	// that a redelivery finds the same record; "" makes a new one.
	ID string
	// OverrideSoak, when not empty, is why a production release may skip
	// its env's soak gate; only the env's approvers may ask (see soak.go).
	OverrideSoak string
}

// finishTimeout bounds the bookkeeping done after a release's context ended.
const finishTimeout = 10 * time.Second

// Release runs one release to completion in this process, as a job: it
// submits the request (see Submit) and runs an inline Worker on the env
// (see Worker.RunUntil) until the release's record is final. For a non-prod
// env the job merges the ticket's branch into the env branch (creating it
// from the production branch, syncing the production branch in first),
// pushes it with a lease, deploys it and records the occupants; for prod,
// it checks the ticket is in the production branch and deploys that
// branch's tip.
//
// Invalid input (unknown env, malformed key, user not allowed) and unknown
// or refused tickets return an error before anything is recorded and
// before any Repo call. From then on the release has a record in the Store
// with its journal, every outcome goes to the Notifier as well as being
// returned, and the env's lease is released however the job ends. A
// process that dies mid-release leaves the job queued: the next worker
// (any replica's, or the next Release on the env) resumes it from its
// journal once the lease expires. A merge conflict returns an error of
// kind Conflict that wraps a *ConflictReport.
func (s *Service) Release(ctx context.Context, req ReleaseRequest) (Release, error) {
	rec, _, err := s.Submit(ctx, req)
	if err != nil {
		return rec, err
	}
	w, err := s.NewWorker(WorkerConfig{Envs: []string{rec.Env}})
	if err != nil {
		return rec, err
	}
	return w.RunUntil(ctx, rec.ID)
}

// record stores a validated request's release record, journals it as
// validated and audits the request.
func (s *Service) record(ctx context.Context, req ReleaseRequest, env Env, ticket Ticket) (*run, error) {
	id := req.ID
	if id == "" {
		id = s.newID()
	}
	now := s.clock.Now()
	r := &run{
		s: s, env: env, ticket: ticket, user: req.User, start: now,
		log: s.log.With(slog.String("release", id), slog.String("ticket", string(ticket.Key)), slog.String("env", env.Name)),
		rec: Release{
			ID: id, Ticket: ticket.Key, Env: env.Name, By: req.User.ID,
			RequestedAt: now, State: StateQueued, UpdatedAt: now,
		},
	}
	if err := s.store.CreateRelease(ctx, r.rec); err != nil {
		return nil, fmt.Errorf("record release %s: %w", id, err)
	}
	r.step(ctx, StepValidated, oneLine(string(ticket.Key)+" "+ticket.Summary, 200))
	r.journalOverride(ctx, req.OverrideSoak)
	r.audit(ctx, Event{Action: ActionRequested, Actor: req.User.ID, Detail: strings.TrimSpace(req.User.via())})
	return r, nil
}

// lookup finds the ticket and checks it against the policy.
func (s *Service) lookup(ctx context.Context, key TicketKey) (Ticket, error) {
	ticket, err := s.tickets.Lookup(ctx, key)
	if err != nil {
		return Ticket{}, fmt.Errorf("look up %s: %w", key, err)
	}
	if ticket.Key == "" {
		ticket.Key = key
	}
	if err := s.cfg.Policy.Check(ticket); err != nil {
		return Ticket{}, err
	}
	return ticket, nil
}

// validate checks a request without any I/O.
func (s *Service) validate(req ReleaseRequest) (Env, TicketKey, error) {
	env, err := s.Env(req.Env)
	if err != nil {
		return Env{}, "", err
	}
	key, err := ParseTicketKey(req.Ticket)
	if err != nil {
		return Env{}, "", err
	}
	if req.User.ID == "" {
		return Env{}, "", Errorf("release", Invalid, "who is releasing? a user is required")
	}
	if !env.Allows(req.User) {
		return Env{}, "", Errorf("release", Forbidden, "%s may not release to %s", req.User, env.Name)
	}
	if err := checkSoakOverride(env, req); err != nil {
		return Env{}, "", err
	}
	return env, key, nil
}

// run is one release in progress.
type run struct {
	s      *Service
	log    *slog.Logger
	env    Env
	ticket Ticket
	user   User
	start  time.Time
	rec    Release
	lease  Lease

	deployed DeployResult
	epoch    string // the store's epoch when r began (see outliveReset)
	// unrecorded: the store did not take a final state of the release
	// (update or final).
	unrecorded bool
}

// under runs work while r holds lease l: it renews l meanwhile and cancels
// work's context when l is lost. It does not give l back.
func (r *run) under(ctx context.Context, l Lease, work func(context.Context) error) (err error) {
	r.lease = l
	wctx, stop := r.s.keepLease(ctx, l, r.log)
	defer func() {
		stop()
		// A lost lease explains whatever error the cancellation caused.
		if err != nil && errors.Is(context.Cause(wctx), ErrLeaseLost) && !errors.Is(err, ErrLeaseLost) {
			err = fmt.Errorf("%w (after: %v)", ErrLeaseLost, err)
		}
	}()
	return work(wctx)
}

// begin marks the release running under r.lease, in one compare-and-set
// from queued (or running: a job resumed), so that it starts only if
// nothing ended it meanwhile (a cancel): then the error wraps
// ErrStateMoved and nothing is changed.
func (r *run) begin(ctx context.Context, leased string) error {
	r.beganUnder(ctx)
	u := ReleaseUpdate{From: []ReleaseState{StateQueued, StateRunning}, State: StateRunning, At: r.s.clock.Now()}
	if err := r.s.store.UpdateRelease(ctx, r.rec.ID, u); err != nil {
		return fmt.Errorf("start release %s: %w", r.rec.ID, err)
	}
	u.Apply(&r.rec)
	r.note("started", r.s.notify.Started(ctx, r.rec))
	r.step(ctx, StepLeased, leased)
	r.yourTurn(ctx)
	return nil
}

// releaseLease gives l back, even after ctx ended.
func (s *Service) releaseLease(ctx context.Context, l Lease, log *slog.Logger) {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if _, err := s.store.ReleaseLease(bg, l.Env, l.Token); err != nil {
		log.Error("release lease", slog.Any("err", err))
	}
}

// checkLease makes sure r still holds its env's lease, token and fence,
// before it changes something outside the Store (a push, a deploy): a
// worker that stalled past its lease's expiry stops here.
func (r *run) checkLease(ctx context.Context) error {
	for {
		cur, ok, err := r.s.store.CurrentLease(ctx, r.env.Name)
		if err == nil {
			if !ok || cur.Token != r.lease.Token || cur.Fence != r.lease.Fence {
				return ErrLeaseLost
			}
			return nil
		}
		if KindOf(err) != Unavailable || ctx.Err() != nil {
			return fmt.Errorf("check %s's lease: %w", r.env.Name, err)
		}
		// The store is away (a failover, a restart): wait for it while
		// the lease may still be ours. The lease keeper ends ctx when it
		// cannot be, and the job is then left to the next holder.
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("check %s's lease: %w", r.env.Name, err)
		case <-t.C:
		}
	}
}

// step journals a step in the store and the local record and reports it.
func (r *run) step(ctx context.Context, name, detail string) {
	st := Step{Name: name, At: r.s.clock.Now(), Detail: detail}
	r.rec.Steps = append(r.rec.Steps, st)
	if err := r.s.store.AppendStep(ctx, r.rec.ID, st); err != nil {
		r.log.Error("journal step", slog.String("step", name), slog.Any("err", err))
	}
	r.note("progress", r.s.notify.Progress(ctx, r.rec, st))
}

// update changes the record in the store and locally.
func (r *run) update(ctx context.Context, u ReleaseUpdate) {
	u.At = r.s.clock.Now()
	u.Apply(&r.rec)
	if err := r.s.store.UpdateRelease(ctx, r.rec.ID, u); err != nil {
		r.log.Error("update release", slog.Any("err", err))
		if u.State.Final() {
			r.unrecorded = true
		}
	}
}

// audit appends e, filled with the release's identity, to the trail.
func (r *run) audit(ctx context.Context, e Event) {
	e.At = r.s.clock.Now()
	e.Env = r.env.Name
	if e.Ticket == "" {
		e.Ticket = r.rec.Ticket
	}
	e.ReleaseID = r.rec.ID
	if e.Actor == "" {
		e.Actor = r.rec.By
	}
	if err := r.s.store.AppendEvent(ctx, e); err != nil {
		r.log.Error("audit", slog.String("action", e.Action), slog.Any("err", err))
	}
}

// note logs a Notifier failure; notifications never stop a release.
func (r *run) note(what string, err error) {
	if err != nil {
		r.log.Warn("notify", slog.String("what", what), slog.Any("err", err))
	}
}

// finish records the final state, tells the user about failures and logs
// the outcome once. The final state is written by compare-and-set from the
// state the run knows the record in: when something else moved it (a
// cancel, another worker), finish changes and tells nothing, and returns
// false.
func (r *run) finish(ctx context.Context, err error) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	err = r.outliveReset(ctx, err)
	took := slog.Duration("took", r.s.clock.Now().Sub(r.start))
	if err == nil {
		if !r.final(ctx, ReleaseUpdate{State: StateReleased}) {
			return false
		}
		r.audit(ctx, Event{Action: ActionReleased, SHA: r.rec.DeployedSHA})
		r.log.Info("released", slog.String("sha", r.rec.DeployedSHA), took)
		return true
	}
	msg := UserMessage(err)
	if msg == "" {
		msg = "internal error, logged with release " + r.rec.ID
	}
	state, action := StateFailed, ActionFailed
	switch KindOf(err) {
	case Conflict:
		state, action = StateConflict, ActionConflict
	case Invalid, NotFound, Forbidden:
		state, action = StateRefused, ActionRefused
	}
	if r.deployed.Status == DeployFailed {
		// The deploy ran and failed: not a refusal, whatever its kind.
		state, action = StateFailed, ActionFailed
	}
	if !r.final(ctx, ReleaseUpdate{State: state, Error: msg}) {
		return false
	}
	r.step(ctx, StepFailed, msg)
	r.audit(ctx, Event{Action: action, Detail: msg})
	var rep *ConflictReport
	if state == StateConflict && errors.As(err, &rep) {
		r.note("conflict", r.s.notify.Conflict(ctx, r.rec, *rep))
		r.log.Warn("release conflicts", slog.Any("files", rep.Paths()), took)
		return true
	}
	r.note("failed", r.s.notify.Failed(ctx, r.rec, err))
	if state == StateRefused {
		r.log.Warn("release refused", slog.Any("err", err), took)
	} else {
		r.log.Error("release failed", slog.Any("err", err), took)
	}
	return true
}

// final writes a final state u by compare-and-set from the record's state
// as the run knows it; false when the record moved meanwhile (the run then
// has nothing more to say about it). A Store failure is logged and the run
// goes on, as with update.
func (r *run) final(ctx context.Context, u ReleaseUpdate) bool {
	u.From = []ReleaseState{r.rec.State}
	u.At = r.s.clock.Now()
	err := r.s.store.UpdateRelease(ctx, r.rec.ID, u)
	if errors.Is(err, ErrStateMoved) {
		r.log.Warn("the release's record moved before its end was written", slog.Any("err", err))
		return false
	}
	if err != nil {
		r.log.Error("update release", slog.Any("err", err))
		r.unrecorded = true
	}
	u.Apply(&r.rec)
	return true
}
