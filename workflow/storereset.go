package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// A store that lost its data (a Redis restarted empty, FLUSHALL) has lost
// the leases, queues, occupants, release records and message references;
// git still has what is in each env. The Store's epoch (Store.Epoch)
// tells: the Service remembers the epoch it last saw; a release
// remembers the one it began under. When it changes, the occupants of
// every env are rebuilt from git, and a release that was running writes
// its record again from memory, with its outcome.

// ActionReconciled is the audit action of occupants rebuilt from git.
const ActionReconciled = "occupants.reconciled"

// Reconcile checks the store's epoch and, when the store is new or lost
// its data since this Service last looked, rebuilds every env's
// occupants from git (RebuildOccupants). Call it when a process starts,
// so that a new or emptied store (or the CLI's in-memory one) starts
// from git's truth. It reports whether it rebuilt.
func (s *Service) Reconcile(ctx context.Context) (bool, error) {
	ep, created, err := s.store.Epoch(ctx)
	if err != nil {
		return false, fmt.Errorf("read the store's epoch: %w", err)
	}
	prev := s.sawEpoch(ep)
	if !created && (prev == "" || prev == ep) {
		return false, nil
	}
	s.log.Info("the state store is new or lost its data; rebuilding the occupants from git", slog.Bool("seen_before", prev != ""))
	return true, s.RebuildOccupants(ctx)
}

// noticeReset is the cheap check made before taking a lease: when the
// epoch changed since this Service last saw one, the occupants are rebuilt
// from git. The first look only remembers the epoch.
func (s *Service) noticeReset(ctx context.Context, log *slog.Logger) {
	ep, created, err := s.store.Epoch(ctx)
	if err != nil {
		log.Warn("read the store's epoch", slog.Any("err", err))
		return
	}
	if prev := s.sawEpoch(ep); prev == "" || (prev == ep && !created) {
		return
	}
	log.Warn("the state store lost its data; rebuilding the occupants from git")
	if err := s.RebuildOccupants(ctx); err != nil {
		log.Error("rebuild the occupants from git", slog.Any("err", err))
	}
}

// sawEpoch records ep as the last epoch seen and returns the one before.
func (s *Service) sawEpoch(ep string) (prev string) {
	s.epochMu.Lock()
	defer s.epochMu.Unlock()
	prev, s.epoch = s.epoch, ep
	return prev
}

// RebuildOccupants writes every non-prod env's occupants as git shows
// them on its branch (OccupantsInGit), completed from what the store
// still has. Each env is rewritten under its lease; an env whose lease is
// held is left to its holder, whose release records its occupants from
// git too.
func (s *Service) RebuildOccupants(ctx context.Context) error {
	const op = "reconcile"
	if err := s.repo.Fetch(ctx); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	master, ok, err := s.repo.Tip(ctx, s.cfg.ProductionBranch)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.cfg.ProductionBranch, err)
	}
	if !ok {
		return Errorf(op, NotFound, "the repository has no %s branch", s.cfg.ProductionBranch)
	}
	var errs []error
	for _, e := range s.envs {
		if e.Production {
			continue
		}
		if err := s.rebuildEnv(ctx, e, master); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.Name, err))
		}
	}
	return errors.Join(errs...)
}

// rebuildEnv rewrites e's occupants from git under e's lease.
func (s *Service) rebuildEnv(ctx context.Context, e Env, master string) error {
	tip, _, err := s.repo.Tip(ctx, e.Branch)
	if err != nil {
		return fmt.Errorf("read %s: %w", e.Branch, err)
	}
	id := "reconcile-" + s.newID()
	l, ok, err := s.store.AcquireLease(ctx, e.Name, Lease{Token: id, ReleaseID: id, By: releasedByValue}, s.cfg.LeaseTTL)
	if err != nil {
		return fmt.Errorf("take %s's lease: %w", e.Name, err)
	}
	if !ok {
		return nil // its holder records the occupants
	}
	defer s.releaseLease(ctx, l, s.log)
	stored, err := s.store.Occupants(ctx, e.Name)
	if err != nil {
		return fmt.Errorf("read %s's occupants: %w", e.Name, err)
	}
	occ, _, err := s.reconcileOccupants(ctx, master, tip, stored)
	if err != nil {
		return fmt.Errorf("read %s's occupants from %s: %w", e.Name, e.Branch, err)
	}
	if sameOccupants(stored, occ) {
		return nil
	}
	if err := s.store.SetOccupants(ctx, l, occ); err != nil {
		return fmt.Errorf("record %s's occupants: %w", e.Name, err)
	}
	s.auditEnv(ctx, Event{Env: e.Name, Action: ActionReconciled, Actor: releasedByValue, ReleaseID: id, SHA: tip,
		Detail: fmt.Sprintf("occupants read from %s: %s (the store had %s)", e.Branch, keysOrNone(occ), keysOrNone(stored))})
	return nil
}

func keysOrNone(os []Occupant) string {
	if len(os) == 0 {
		return "none"
	}
	return joinKeys(occupantKeys(os))
}
