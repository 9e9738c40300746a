package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// keepLease renews l every third of its TTL until stop is called (and
// every 24th while the store does not answer). The
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
				t.Reset(every)
			case errors.Is(err, ErrLeaseLost):
				log.Error("lease lost", slog.Int64("fence", l.Fence))
				cancel(ErrLeaseLost)
				return
			default:
				// The store is away (a failover, a restart): try again
				// soon, so that a store back before the deadline keeps
				// the lease.
				log.Warn("renew lease", slog.Any("err", err))
				t.Reset(max(every/8, 10*time.Millisecond))
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

// releaseLease gives l back, even after ctx ended.
func (s *Service) releaseLease(ctx context.Context, l Lease, log *slog.Logger) {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if _, err := s.store.ReleaseLease(bg, l.Env, l.Token); err != nil {
		log.Error("release lease", slog.Any("err", err))
	}
}

// underLease runs work while l is held: it renews l meanwhile and cancels
// work's context when l is lost. It does not give l back.
func (s *Service) underLease(ctx context.Context, l Lease, log *slog.Logger, work func(context.Context) error) (err error) {
	wctx, stop := s.keepLease(ctx, l, log)
	defer func() {
		stop()
		// A lost lease explains whatever error the cancellation caused.
		if err != nil && errors.Is(context.Cause(wctx), ErrLeaseLost) && !errors.Is(err, ErrLeaseLost) {
			err = fmt.Errorf("%w (after: %v)", ErrLeaseLost, err)
		}
	}()
	return work(wctx)
}
