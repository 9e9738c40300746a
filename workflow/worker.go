package workflow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// Submit validates a request, records its release and queues it as a job
// that any replica's Worker runs; it returns once queued, with the job's
// position in the env's queue (1: next, or running). Invalid input and
// refused tickets return an error before anything is recorded, as with
// Release. Submitting an ID that exists already (a redelivered envelope)
// returns that release and its position without queueing it again.
func (s *Service) Submit(ctx context.Context, req ReleaseRequest) (Release, int, error) {
	env, key, err := s.validate(req)
	if err != nil {
		return Release{}, 0, err
	}
	if req.ID != "" {
		if rec, err := s.store.GetRelease(ctx, req.ID); err == nil {
			return s.resubmit(ctx, rec)
		}
	}
	var ticket Ticket
	if req.RollbackOf == "" {
		if ticket, err = s.lookup(ctx, key); err != nil {
			return Release{}, 0, err
		}
	} else {
		// A rollback undoes what was deployed, whatever the ticket's
		// status says now.
		ticket = Ticket{Key: key, Summary: "rollback of release " + req.RollbackOf}
	}
	r, err := s.record(ctx, req, env, ticket)
	if err != nil {
		if req.ID != "" {
			// The same request on another replica recorded it first.
			if rec, gerr := s.store.GetRelease(ctx, req.ID); gerr == nil {
				return s.resubmit(ctx, rec)
			}
		}
		return Release{}, 0, err
	}
	e := QueueEntry{ID: r.rec.ID, Ticket: r.rec.Ticket, By: r.rec.By, Job: true}
	pos, err := s.store.Enqueue(ctx, env.Name, e, s.cfg.JobTTL)
	if err != nil {
		err = fmt.Errorf("queue %s on %s: %w", r.rec.ID, env.Name, err)
		r.finish(ctx, err)
		return r.rec, 0, err
	}
	w := Waiting{Position: pos}
	if h, held, err := s.store.Hold(ctx, env.Name); err == nil && held {
		w.Hold = &h
	}
	if l, ok, err := s.store.CurrentLease(ctx, env.Name); err == nil && ok {
		w.Holder = &l
	}
	if w.Holder != nil && w.Holder.ReleaseID == r.rec.ID {
		// A worker took it already: it is not waiting, and its own
		// messages (started, even its outcome) may be out before this one.
		w.Holder = nil
	}
	if pos > 1 || w.Hold != nil || w.Holder != nil {
		// It waits: the journal and the channel say so. A job that is next
		// starts at once and says so itself, so no "queued" message can
		// overwrite its start or its outcome.
		r.step(ctx, StepQueued, fmt.Sprintf("position %d", pos)+heldBy(w.Hold))
		r.note("queued", s.notify.Queued(ctx, r.rec, w))
	}
	return r.rec, pos, nil
}

// resubmit answers a Submit of a release recorded already (a redelivered
// envelope, or the same request on two replicas): a live one is queued
// again, keeping its place if it is queued (the first Submit may have
// died between recording and queueing it), and its position returned; a
// final one is returned with position 0.
func (s *Service) resubmit(ctx context.Context, rec Release) (Release, int, error) {
	if rec.State.Final() {
		return rec, 0, nil
	}
	e := QueueEntry{ID: rec.ID, Ticket: rec.Ticket, By: rec.By, Job: true}
	pos, err := s.store.Enqueue(ctx, rec.Env, e, s.cfg.JobTTL)
	if err != nil {
		return rec, 0, fmt.Errorf("queue %s on %s: %w", rec.ID, rec.Env, err)
	}
	return rec, pos, nil
}

// WorkerConfig tunes a Worker; zero values take the defaults.
type WorkerConfig struct {
	// ID names the worker in lease tokens and logs; default host-pid.
	ID string
	// Envs are the envs it serves; default all.
	Envs []string
	// Slots is how many jobs (of different envs) it runs at once;
	// default 1.
	Slots int
	// DrainTimeout is how long Run lets running jobs finish once its
	// context ends; then they are handed off to another replica.
	// Default 30s.
	DrainTimeout time.Duration
	// MaxAttempts is how many times a job may be started (first run and
	// resumptions after a worker died or handed it off) before it fails.
	// Default 5.
	MaxAttempts int
	// LocalState says the Store lives and dies with this process (no
	// shared state): when the worker stops, a job waiting for a person (a
	// prod approval) cannot be resumed by anyone, so it ends at once and
	// its request lapses. With shared state such a job is handed off at
	// once instead: its request stays and any replica resumes it. Either
	// way, a job waiting for a person is not work to drain.
	LocalState bool
}

// Worker runs the jobs queued by Submit. Any number of Workers, in any
// number of replicas, share the Store: a worker takes the head job of an
// env whose lease it can get, renews the lease while it works, and checks
// the lease (token and fence) before it pushes or deploys. A job stays at
// the head of its env's queue until it ends, so a job whose worker died is
// found again once the dead worker's lease expires and resumed from its
// journal: a pushed merge is not merged again, the deploy is re-run.
type Worker struct {
	s    *Service
	log  *slog.Logger
	cfg  WorkerConfig
	envs []Env

	mu       sync.Mutex
	running  map[string]bool                    // envs this worker runs a job of
	waiting  map[string]context.CancelCauseFunc // jobs waiting for a person, by release
	stopping bool                               // Run's context ended
	wake     chan struct{}
}

// ErrHandedOff is the cause of a job's context when its worker stops
// before the job ends: the job is left for another replica.
var ErrHandedOff = &Error{Op: "worker", Kind: Unavailable, Msg: "the worker stopped; another replica resumes the release"}

// ErrLapsed is the cause of a job's context when its worker stops while
// the job waits for a person and no other replica could resume it (the
// worker's LocalState): what it waited for lapses.
var ErrLapsed = &Error{Op: "worker", Kind: Unavailable, Msg: "the bot stopped, and it keeps no shared state that another replica could resume from"}

// personWaitKey is the context key of a job's waitingForPerson hook.
type personWaitKey struct{}

// waitingForPerson tells the worker running ctx's job that the job now
// waits for a person (on) or works again (off). A worker that stops ends
// a waiting job's context at once (cause ErrHandedOff or ErrLapsed)
// instead of draining it. A no-op outside a Worker's Run.
func waitingForPerson(ctx context.Context, on bool) {
	if f, ok := ctx.Value(personWaitKey{}).(func(bool)); ok {
		f(on)
	}
}

// park records (on) or forgets job id as waiting for a person; a job
// that starts waiting once the worker stops is ended at once.
func (w *Worker) park(id string, cancel context.CancelCauseFunc, on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case !on:
		delete(w.waiting, id)
	case w.stopping:
		cancel(w.parkCause())
	default:
		w.waiting[id] = cancel
	}
}

// stopWaiting marks the worker stopping and ends the jobs waiting for a
// person.
func (w *Worker) stopWaiting() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopping = true
	for id, cancel := range w.waiting {
		w.log.Info("stopping: a job waiting for a person ends now", slog.String("release", id), slog.Bool("local_state", w.cfg.LocalState))
		cancel(w.parkCause())
	}
}

func (w *Worker) parkCause() error {
	if w.cfg.LocalState {
		return ErrLapsed
	}
	return ErrHandedOff
}

// NewWorker returns a Worker running the Service's jobs.
func (s *Service) NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.ID == "" {
		host, _ := os.Hostname()
		cfg.ID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.Slots <= 0 {
		cfg.Slots = 1
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	envs := s.Envs()
	if len(cfg.Envs) > 0 {
		envs = nil
		for _, name := range cfg.Envs {
			e, err := s.Env(name)
			if err != nil {
				return nil, err
			}
			envs = append(envs, e)
		}
	}
	return &Worker{
		s: s, log: s.log.With(slog.String("worker", cfg.ID)), cfg: cfg, envs: envs,
		running: map[string]bool{}, waiting: map[string]context.CancelCauseFunc{}, wake: make(chan struct{}, 1),
	}, nil
}

// Run takes and runs jobs until ctx ends, then waits up to DrainTimeout
// for the running jobs and hands off those still running: they stay
// queued, their leases are given back, and another replica resumes them.
func (w *Worker) Run(ctx context.Context) error {
	jobs, cancelJobs := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelJobs(nil)
	var wg sync.WaitGroup
	w.log.Info("worker started", slog.Int("envs", len(w.envs)), slog.Int("slots", w.cfg.Slots))
	for next := 0; ctx.Err() == nil; next++ {
		took := false
		for i := range w.envs {
			e := w.envs[(next+i)%len(w.envs)]
			if !w.free(e.Name) {
				continue
			}
			l, entry, ok := w.take(ctx, e)
			if !ok {
				continue
			}
			took = true
			w.mark(e.Name, true)
			wg.Go(func() {
				job, cancelJob := context.WithCancelCause(jobs)
				defer func() {
					cancelJob(nil)
					w.park(entry.ID, nil, false)
					w.mark(e.Name, false)
					select {
					case w.wake <- struct{}{}:
					default:
					}
				}()
				job = context.WithValue(job, personWaitKey{}, func(on bool) { w.park(entry.ID, cancelJob, on) })
				_ = w.runJob(job, e, l, entry) // its record tells the outcome
			})
		}
		if took {
			continue
		}
		t := time.NewTimer(w.s.cfg.PollInterval)
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-t.C:
		}
		t.Stop()
	}

	// A job waiting for a person is not work in flight: it ends now.
	w.stopWaiting()
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(w.cfg.DrainTimeout):
		w.log.Warn("drain timeout: handing off running jobs")
		cancelJobs(ErrHandedOff)
		<-drained
	}
	w.log.Info("worker stopped")
	return nil
}

// free reports whether the worker has a slot for env.
func (w *Worker) free(env string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.running[env] && len(w.running) < w.cfg.Slots
}

func (w *Worker) mark(env string, on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if on {
		w.running[env] = true
	} else {
		delete(w.running, env)
	}
}

// take gets env's lease for the job at the head of its queue, when there
// is one, the env is not held and nobody holds its lease.
func (w *Worker) take(ctx context.Context, e Env) (Lease, QueueEntry, bool) {
	st := w.s.store
	q, err := st.Queue(ctx, e.Name)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("read queue", slog.String("env", e.Name), slog.Any("err", err))
		}
		return Lease{}, QueueEntry{}, false
	}
	if len(q) == 0 || !q[0].Job {
		return Lease{}, QueueEntry{}, false
	}
	if _, held, err := st.Hold(ctx, e.Name); err != nil || held {
		return Lease{}, QueueEntry{}, false
	}
	head := q[0]
	w.s.noticeReset(ctx, w.log)
	want := Lease{Token: w.cfg.ID + "/" + nonce(), ReleaseID: head.ID, Ticket: head.Ticket, By: head.By}
	l, ok, err := st.AcquireLease(ctx, e.Name, want, w.s.cfg.LeaseTTL)
	if err != nil || !ok || l.Token != want.Token {
		return Lease{}, QueueEntry{}, false
	}
	// The job we saw may have ended between reading the queue and taking
	// the lease: work on the head as it is now.
	q, err = st.Queue(ctx, e.Name)
	if err != nil || len(q) == 0 || q[0].ID != head.ID {
		w.s.releaseLease(ctx, l, w.log)
		return Lease{}, QueueEntry{}, false
	}
	return l, head, true
}

func nonce() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// runJob runs (or resumes) the job at the head of env's queue under lease
// l and returns the error it ended with (nil when released, or when there
// was nothing to run). When it ends, its record is final, it leaves the
// queue, and then the lease is given back, in that order, so that no other
// worker can take it up again. When the lease is lost or the worker hands
// it off, the job stays queued and unfinished for the next holder of the
// lease.
func (w *Worker) runJob(ctx context.Context, env Env, l Lease, e QueueEntry) (jobErr error) {
	s := w.s
	log := w.log.With(slog.String("release", e.ID), slog.String("env", env.Name), slog.Int64("fence", l.Fence))
	done := func() {
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		defer cancel()
		if _, err := s.store.RemoveQueued(bg, env.Name, e.ID); err != nil {
			log.Error("leave queue", slog.Any("err", err))
		}
		s.releaseLease(bg, l, log)
	}
	rec, err := s.store.GetRelease(ctx, e.ID)
	switch {
	case KindOf(err) == NotFound:
		log.Error("queued job has no release record; dropping it")
		done()
		return nil
	case err != nil:
		log.Error("read job", slog.Any("err", err))
		s.releaseLease(ctx, l, log)
		return fmt.Errorf("read job %s: %w", e.ID, err)
	case rec.State.Final():
		done()
		return nil
	}
	// Keep the entry for as long as the job may take.
	if _, err := s.store.TouchQueued(ctx, env.Name, e.ID, s.cfg.JobTTL); err != nil {
		log.Warn("touch job", slog.Any("err", err))
	}
	ticket, err := s.tickets.Lookup(ctx, rec.Ticket)
	if err != nil {
		log.Warn("look up ticket", slog.Any("err", err))
		ticket = Ticket{Key: rec.Ticket}
	}
	if ticket.Key == "" {
		ticket.Key = rec.Ticket
	}
	r := &run{
		s: s, env: env, ticket: ticket, user: User{ID: rec.By, Via: rec.Via}, start: s.clock.Now(), rec: rec,
		log: log.With(slog.String("ticket", string(rec.Ticket))),
	}
	var attempts int
	var last string
	for _, st := range rec.Steps {
		if st.Name == StepLeased {
			attempts++
		}
		if st.Name != StepHandedOff && st.Name != StepResumed {
			last = st.Name
		}
	}
	defer func() {
		if p := recover(); p != nil {
			log.Error("job panicked", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			r.finish(ctx, Errorf("release", Internal, "internal error in release %s", rec.ID))
			done()
			jobErr = &panicError{value: p}
		}
	}()

	err = r.under(ctx, l, func(work context.Context) error {
		if err := r.begin(work, fmt.Sprintf("fence %d, attempt %d, worker %s", l.Fence, attempts+1, w.cfg.ID)); err != nil {
			return err
		}
		if attempts >= w.cfg.MaxAttempts {
			return Errorf("worker", Unavailable, "the release of %s to %s was interrupted %d times (its workers stopped or lost the env); release it again",
				rec.Ticket, env.Name, attempts)
		}
		if attempts > 0 {
			r.step(work, StepResumed, "after "+last)
		}
		if env.Production {
			if of, to, ok := r.rollbackOf(); ok {
				return r.prodRollback(work, of, to)
			}
			return r.prod(work)
		}
		if rec.PushedSHA != "" {
			return r.resumePushed(work)
		}
		return r.nonProd(work)
	})
	if errors.Is(err, ErrStateMoved) {
		// It ended before it started (a cancel won): the record is final
		// already and nothing was done.
		log.Info("the job ended before it started", slog.Any("err", err))
		done()
		return nil
	}
	if err != nil && errors.Is(err, ErrLeaseLost) && r.storeReset(ctx) {
		// The store lost its data, the job's record and queue entry with
		// it: nobody else will resume it, so this worker finishes it.
		r.finish(ctx, err)
		done()
		return
	}
	if err != nil && errors.Is(err, ErrLeaseLost) {
		// Not this worker's any more: the next holder of the lease, who
		// may be at work already, resumes the job from its journal. The
		// record is theirs to write.
		log.Warn("lease lost; the job is left to the next holder of the lease", slog.Any("err", err))
		return err
	}
	if err != nil && errors.Is(context.Cause(ctx), ErrHandedOff) {
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		defer cancel()
		if r.checkLease(bg) == nil {
			r.step(bg, StepHandedOff, "the worker stopped: "+oneLine(err.Error(), 200))
			r.update(bg, ReleaseUpdate{State: StateQueued})
			s.releaseLease(bg, l, log)
		}
		log.Warn("job handed off", slog.Any("err", err))
		return err
	}
	r.finish(ctx, err)
	if r.unrecorded {
		// The store did not take its end (it was away): the job stays
		// queued, unfinished, and the next holder of the lease resumes it
		// from its journal, rather than leaving a record that never ends.
		log.Warn("the job's end was not recorded; it is left queued for the next holder of the lease")
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		defer cancel()
		s.releaseLease(bg, l, log)
		return err
	}
	done()
	return err
}

// resumePushed finishes a release whose env branch an earlier attempt
// pushed: it records the occupants, deploys the pushed commit again and
// announces, without merging again.
func (r *run) resumePushed(ctx context.Context) error {
	master, err := r.fetchProductionTip(ctx)
	if err != nil {
		return err
	}
	br := Branch{Name: r.rec.Branch, SHA: r.rec.TicketSHA}
	b := built{merged: r.rec.PushedSHA, created: r.rec.HasStep(StepCreated)}
	return r.occupyDeployAnnounce(ctx, master, br, b)
}

// RunUntil runs the jobs of release id's env, in queue order, until that
// release's record is final, and returns the record and the error the
// release ended with. It is the worker of a single run (the CLI's
// release): jobs ahead of id's, or left by a worker that died (once their
// lease expires), are run or resumed first, as any replica's worker would;
// another replica may run id's job too, and then the error is derived from
// the record.
//
// When ctx ends while the job is still queued, it is withdrawn: failed and
// out of the queue. When it ends while this worker runs it, the job fails
// as any job whose context ends; a job of another release is handed off
// instead, left queued for the next worker. When the job's lease is lost,
// the job is left to the next holder of the lease and ErrLeaseLost is
// returned.
func (w *Worker) RunUntil(ctx context.Context, id string) (Release, error) {
	st := w.s.store
	// The record is read even after ctx ended, to withdraw the job.
	bg := context.WithoutCancel(ctx)
	for {
		rec, err := st.GetRelease(bg, id)
		if err != nil {
			return rec, fmt.Errorf("read release %s: %w", id, err)
		}
		if rec.State.Final() {
			return rec, outcomeError(rec)
		}
		env, err := w.s.Env(rec.Env)
		if err != nil {
			return rec, err
		}
		if ctx.Err() != nil {
			return w.withdraw(ctx, rec, Wrap("release.queue", Unavailable, fmt.Sprintf("stopped waiting for %s", env.Name), context.Cause(ctx)))
		}
		if l, entry, ok := w.take(ctx, env); ok {
			jerr := w.runOne(ctx, env, l, entry, entry.ID == id)
			if entry.ID != id {
				continue
			}
			if errors.Is(jerr, ErrLeaseLost) || errors.Is(jerr, ErrHandedOff) {
				rec, _ = st.GetRelease(bg, id)
				return rec, jerr
			}
			if rec, err := st.GetRelease(bg, id); err == nil && rec.State.Final() {
				return rec, jerr
			}
			continue
		}
		q, err := st.Queue(ctx, env.Name)
		if err == nil && rec.State == StateQueued && !slices.ContainsFunc(q, func(e QueueEntry) bool { return e.ID == id }) {
			return w.withdraw(ctx, rec, Errorf("release.queue", Busy, "the release of %s left %s's queue (cancelled, or it waited too long)", rec.Ticket, env.Name))
		}
		t := time.NewTimer(w.s.cfg.PollInterval)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// runOne runs one job for RunUntil. When ctx ends, the job fails if it is
// the release RunUntil waits for (own), else it is handed off.
func (w *Worker) runOne(ctx context.Context, env Env, l Lease, e QueueEntry, own bool) error {
	if own {
		err := w.runJob(ctx, env, l, e)
		var p *panicError
		if errors.As(err, &p) {
			panic(p.value) // the caller's, as a panic of its own call; the job is finished
		}
		return err
	}
	jobs, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() { cancel(ErrHandedOff) })
	defer stop()
	return w.runJob(jobs, env, l, e)
}

// panicError is what runJob returns for a job that panicked (recovered,
// logged and finished as an internal error).
type panicError struct{ value any }

func (e *panicError) Error() string { return fmt.Sprintf("the job panicked: %v", e.value) }

// withdraw fails a release that is still queued, with err, and takes it
// out of its queue; when a worker started it meanwhile, that worker's
// outcome stands and only err is returned.
func (w *Worker) withdraw(ctx context.Context, rec Release, err error) (Release, error) {
	s := w.s
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	env, _ := s.Env(rec.Env)
	r := &run{s: s, env: env, ticket: Ticket{Key: rec.Ticket}, user: User{ID: rec.By, Via: rec.Via}, start: s.clock.Now(), rec: rec,
		log: w.log.With(slog.String("release", rec.ID), slog.String("env", rec.Env), slog.String("ticket", string(rec.Ticket)))}
	if r.finish(bg, err) {
		if _, qerr := s.store.RemoveQueued(bg, rec.Env, rec.ID); qerr != nil {
			r.log.Error("leave queue", slog.Any("err", qerr))
		}
	}
	return r.rec, err
}

// outcomeError is the error a final record ended with, as its worker
// would have returned it: nil when released.
func outcomeError(rec Release) error {
	const op = "release"
	switch rec.State {
	case StateReleased:
		return nil
	case StateConflict:
		return Errorf(op, Conflict, "%s", rec.Error)
	case StateRefused:
		return Errorf(op, Invalid, "%s", rec.Error)
	case StateCancelled:
		return Errorf(op, Busy, "%s", rec.Error)
	}
	return Errorf(op, Unavailable, "%s", rec.Error)
}
