package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"
)

// schedulerLease is the lease that makes one OccupancyScheduler run at a
// time across replicas. It is not an env name (those never hold '~').
const schedulerLease = "~occupancy"

// OccupancyScheduler runs SweepOccupancy every interval on one replica
// at a time: each replica runs one, and the one that holds the shared
// lease (renewed while it sweeps and between sweeps) does the work. A
// replica that dies leaves the lease to expire (the Service's LeaseTTL);
// another takes it over at its next tick and handles every deadline that
// passed meanwhile, since a pass looks at what is due, not at what
// happened since the last one.
type OccupancyScheduler struct {
	s     *Service
	log   *slog.Logger
	every time.Duration
	token string
	held  bool // this scheduler held the lease at its last tick
}

// NewOccupancyScheduler returns a scheduler named id (in its lease token
// and logs; default host-pid) that sweeps every interval (default 1m).
func (s *Service) NewOccupancyScheduler(id string, every time.Duration) *OccupancyScheduler {
	if every <= 0 {
		every = time.Minute
	}
	if id == "" {
		host, _ := os.Hostname()
		id = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return &OccupancyScheduler{s: s, log: s.log.With(slog.String("scheduler", id)), every: every, token: "occupancy/" + id + "/" + nonce()}
}

// Tick takes or renews the scheduler's lease and, when it holds it,
// sweeps once under it. It reports whether it swept.
func (sc *OccupancyScheduler) Tick(ctx context.Context) (bool, error) {
	s := sc.s
	ttl := max(s.cfg.LeaseTTL, 2*sc.every)
	var l Lease
	var err error
	if sc.held {
		l, err = s.store.RenewLease(ctx, schedulerLease, sc.token, ttl)
		if errors.Is(err, ErrLeaseLost) {
			sc.held, err = false, nil
		} else if err != nil {
			return false, fmt.Errorf("renew the scheduler's lease: %w", err)
		}
	}
	if !sc.held {
		var ok bool
		l, ok, err = s.store.AcquireLease(ctx, schedulerLease, Lease{Token: sc.token, ReleaseID: "occupancy-scheduler", By: releasedByValue}, ttl)
		if err != nil {
			return false, fmt.Errorf("take the scheduler's lease: %w", err)
		}
		if !ok {
			return false, nil
		}
		sc.held = true
		sc.log.Info("occupancy scheduler: this replica sweeps", slog.Int64("fence", l.Fence))
	}
	err = s.underLease(ctx, l, sc.log, s.SweepOccupancy)
	if errors.Is(err, ErrLeaseLost) {
		sc.held = false
		return true, err
	}
	// Hold it until the next tick (the sweep renewed it for LeaseTTL).
	if _, rerr := s.store.RenewLease(ctx, schedulerLease, sc.token, ttl); errors.Is(rerr, ErrLeaseLost) {
		sc.held = false
	}
	return true, err
}

// Run ticks at once (deadlines missed while no replica ran are handled
// at start) and then every interval until ctx ends, then gives the lease
// back so that another replica takes over at once.
func (sc *OccupancyScheduler) Run(ctx context.Context) {
	if !slices.ContainsFunc(sc.s.envs, func(e Env) bool { return e.Occupancy.Enabled() || e.Occupancy.RemoveWhenDone }) {
		return // no env has a policy: nothing to sweep
	}
	t := time.NewTicker(sc.every)
	defer t.Stop()
	for {
		if _, err := sc.Tick(ctx); err != nil && ctx.Err() == nil {
			sc.log.Error("occupancy sweep", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			sc.Stop(ctx)
			return
		case <-t.C:
		}
	}
}

// Stop gives the scheduler's lease back, if it holds it.
func (sc *OccupancyScheduler) Stop(ctx context.Context) {
	if !sc.held {
		return
	}
	sc.held = false
	sc.s.releaseLease(ctx, Lease{Env: schedulerLease, Token: sc.token}, sc.log)
}
