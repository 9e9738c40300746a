package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// waitTurn queues r on its env and returns once r holds the env's lease:
// when r is at the head of the queue, the env is not held and nobody holds
// the lease. Waiting ends with ctx, or when r's entry leaves the queue
// (cancelled, or expired because this process stalled).
func (s *Service) waitTurn(ctx context.Context, r *run) (Lease, error) {
	const op = "release.queue"
	env, id := r.env.Name, r.rec.ID
	want := Lease{Token: id, ReleaseID: id, Ticket: r.rec.Ticket, By: r.rec.By}
	pos, err := s.store.Enqueue(ctx, env, QueueEntry{ID: id, Ticket: r.rec.Ticket, By: r.rec.By}, s.cfg.QueueTTL)
	if err != nil {
		return Lease{}, fmt.Errorf("queue %s on %s: %w", id, env, err)
	}
	queued := true
	defer func() {
		if !queued {
			return
		}
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		defer cancel()
		if _, err := s.store.RemoveQueued(bg, env, id); err != nil {
			r.log.Error("leave queue", slog.Any("err", err))
		}
	}()

	var told Waiting
	for first := true; ; first = false {
		w := Waiting{Position: pos}
		hold, held, err := s.store.Hold(ctx, env)
		if err != nil {
			return Lease{}, fmt.Errorf("read %s's hold: %w", env, err)
		}
		if held {
			w.Hold = &hold
		}
		if pos == 1 && !held {
			s.noticeReset(ctx, r.log)
			l, ok, err := s.store.AcquireLease(ctx, env, want, s.cfg.LeaseTTL)
			if err != nil {
				return Lease{}, fmt.Errorf("take %s's lease: %w", env, err)
			}
			if ok {
				queued = false
				if _, err := s.store.RemoveQueued(ctx, env, id); err != nil {
					r.log.Error("leave queue", slog.Any("err", err))
				}
				return l, nil
			}
			w.Holder = &l
		} else if l, ok, err := s.store.CurrentLease(ctx, env); err != nil {
			return Lease{}, fmt.Errorf("read %s's lease: %w", env, err)
		} else if ok {
			w.Holder = &l
		}
		if first || !sameWaiting(w, told) {
			told = w
			r.step(ctx, StepQueued, fmt.Sprintf("position %d", w.Position)+heldBy(w.Hold))
			r.note("queued", s.notify.Queued(ctx, r.rec, w))
		}

		t := time.NewTimer(s.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return Lease{}, Wrap(op, Unavailable, fmt.Sprintf("stopped waiting for %s", env), context.Cause(ctx))
		case <-t.C:
		}
		pos, err = s.store.TouchQueued(ctx, env, id, s.cfg.QueueTTL)
		if err != nil {
			return Lease{}, fmt.Errorf("stay in %s's queue: %w", env, err)
		}
		if pos == 0 {
			queued = false
			return Lease{}, Errorf(op, Busy, "the release of %s left %s's queue (cancelled, or it waited too long)", r.rec.Ticket, env)
		}
	}
}

// sameWaiting reports whether a and b would tell the user the same thing.
func sameWaiting(a, b Waiting) bool {
	holder := func(w Waiting) string {
		if w.Holder == nil {
			return ""
		}
		return w.Holder.Token
	}
	return a.Position == b.Position && holder(a) == holder(b) && (a.Hold == nil) == (b.Hold == nil)
}

// keepLease renews l every third of its TTL until stop is called. The
// returned context is cancelled with cause ErrLeaseLost when the lease is
// lost, or is not renewed in time: two thirds of the TTL after the last
// renewal began, a third ahead of its expiry in the store, however long
// the store takes to answer, so that work under it stops before another
// release may start.
func (s *Service) keepLease(ctx context.Context, l Lease, log *slog.Logger) (work context.Context, stop func()) {
	work, cancel := context.WithCancelCause(ctx)
	every := s.cfg.LeaseTTL / 3
	deadline := time.AfterFunc(s.cfg.LeaseTTL-every, func() {
		log.Error("lease not renewed in time", slog.Int64("fence", l.Fence))
		cancel(ErrLeaseLost)
	})
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-work.Done():
				return
			case <-t.C:
			}
			began := time.Now()
			rctx, rcancel := context.WithTimeout(work, every)
			_, err := s.store.RenewLease(rctx, l.Env, l.Token, s.cfg.LeaseTTL)
			rcancel()
			switch {
			case err == nil:
				deadline.Reset(time.Until(began.Add(s.cfg.LeaseTTL - every)))
			case errors.Is(err, ErrLeaseLost):
				log.Error("lease lost", slog.Int64("fence", l.Fence))
				cancel(ErrLeaseLost)
				return
			default:
				log.Warn("renew lease", slog.Any("err", err))
			}
		}
	})
	return work, func() {
		close(done)
		wg.Wait()
		deadline.Stop()
		cancel(nil)
	}
}
