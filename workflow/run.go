package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// finishTimeout bounds the bookkeeping done after a release's context ended.
const finishTimeout = 10 * time.Second

// run is one release in progress: a job a Worker took (runJob) under its
// env's lease. This file holds its bookkeeping: the lease it works under,
// its journal and record, its audit events and notices, and its end. What
// it does is in nonprod.go (merge, push, deploy), prod.go, approval.go,
// requires.go and worker.go (resuming).
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
	// releasedInTrail: announce put the release in the env's trail before
	// it told the channel (finish does not again).
	releasedInTrail bool
}

// under runs work while r holds lease l (see Service.underLease). It does
// not give l back.
func (r *run) under(ctx context.Context, l Lease, work func(context.Context) error) error {
	r.lease = l
	return r.s.underLease(ctx, l, r.log, work)
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
		if !r.releasedInTrail {
			r.audit(ctx, Event{Action: ActionReleased, SHA: r.rec.DeployedSHA})
		}
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

// yourTurn tells a requester who had to wait (queued behind others or a
// hold) that their release started.
func (r *run) yourTurn(ctx context.Context) {
	waited := false
	for _, st := range r.rec.Steps {
		// "position 1" alone: it did not wait for anybody.
		if st.Name == StepQueued && st.Detail != "position 1" {
			waited = true
		}
	}
	if !waited {
		return
	}
	r.s.told("your turn", r.s.notify.YourTurn(ctx, r.rec))
}

// storeReset reports whether the store lost its data since r began (its
// epoch changed). It tells the Service too.
func (r *run) storeReset(ctx context.Context) bool {
	if r.epoch == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	ep, _, err := r.s.store.Epoch(ctx)
	if err != nil {
		r.log.Warn("read the store's epoch", slog.Any("err", err))
		return false
	}
	r.s.sawEpoch(ep)
	return ep != r.epoch
}

// beganUnder remembers the store's epoch as r begins.
func (r *run) beganUnder(ctx context.Context) {
	ep, _, err := r.s.store.Epoch(ctx)
	if err != nil {
		r.log.Warn("read the store's epoch", slog.Any("err", err))
		return
	}
	r.epoch = ep
}

// outliveReset runs as r finishes, with err its outcome. When the store
// lost its data while r ran, the record (and the message references) went
// with it: r writes its record again from memory, the occupants are
// rebuilt from git, and an unfinished release's outcome becomes an
// Unavailable error that says what git and the deploy show, so that the
// user is not left with a release that seems to run forever.
func (r *run) outliveReset(ctx context.Context, err error) error {
	if !r.storeReset(ctx) {
		return err
	}
	r.log.Warn("the state store lost its data during the release; writing its record again", slog.Any("outcome", err))
	// what announce put in the trail went with the data: finish writes it again
	r.releasedInTrail = false
	rec := r.rec
	if cerr := r.s.store.CreateRelease(ctx, rec); cerr != nil && KindOf(cerr) != Invalid {
		r.log.Error("write the release record again", slog.Any("err", cerr))
	}
	if rerr := r.s.RebuildOccupants(ctx); rerr != nil {
		r.log.Error("rebuild the occupants from git", slog.Any("err", rerr))
	}
	if err == nil {
		return nil // it finished: the record says so
	}
	return Wrap("release", Unavailable, r.unknownOutcome(), err)
}

// unknownOutcome says what is known of a release the store reset
// interrupted.
func (r *run) unknownOutcome() string {
	var b strings.Builder
	fmt.Fprintf(&b, "this release's outcome is unknown: the state store was reset while it ran; ")
	switch {
	case r.rec.PushedSHA != "":
		fmt.Fprintf(&b, "%s is on %s at %s", r.rec.Ticket, r.env.Branch, short(r.rec.PushedSHA))
	case r.env.Production:
		fmt.Fprintf(&b, "nothing was deployed to %s by it", r.env.Name)
	default:
		fmt.Fprintf(&b, "nothing was pushed to %s", r.env.Branch)
	}
	switch {
	case r.deployed.Status != "":
		fmt.Fprintf(&b, "; its deploy ended %s: %s", r.deployed.Status, r.deployed.Summary)
	case r.rec.PushedSHA != "":
		fmt.Fprintf(&b, "; its deploy did not finish: release %s to %s again to deploy it", r.rec.Ticket, r.env.Name)
	}
	return b.String()
}
