package workflow

import (
	"context"
	"errors"
	"fmt"
)

// Cancel takes ticket's waiting releases out of env's queue. The requester
// may cancel their own; others need the env's remove permission. A release
// already working on the env cannot be cancelled (NotFound when nothing of
// the ticket is queued).
func (s *Service) Cancel(ctx context.Context, ticket, env string, by User) (int, error) {
	const op = "cancel"
	e, err := s.Env(env)
	if err != nil {
		return 0, err
	}
	key, err := ParseTicketKey(ticket)
	if err != nil {
		return 0, err
	}
	if by.ID == "" {
		return 0, Errorf(op, Invalid, "who is asking? a user is required")
	}
	q, err := s.store.Queue(ctx, e.Name)
	if err != nil {
		return 0, fmt.Errorf("read %s's queue: %w", e.Name, err)
	}
	running, _, err := s.store.CurrentLease(ctx, e.Name)
	if err != nil {
		return 0, fmt.Errorf("read %s's lease: %w", e.Name, err)
	}
	n := 0
	for _, qe := range q {
		if qe.Ticket != key {
			continue
		}
		if qe.ID == running.ReleaseID {
			return 0, Errorf(op, Busy, "%s is releasing to %s right now and cannot be cancelled; use /release remove %s %s once it is done", key, e.Name, key, e.Name)
		}
		if qe.By != by.ID && !e.May(ActRemove, by) {
			return 0, Errorf(op, Forbidden, "%s's release to %s was asked by %s; only they (or who may remove tickets from %s) can cancel it", key, e.Name, qe.By, e.Name)
		}
		// Final first, and only from queued, so that a worker never starts
		// it and a started one is never cancelled; then out of the queue.
		err := s.store.UpdateRelease(ctx, qe.ID, ReleaseUpdate{
			From: []ReleaseState{StateQueued}, State: StateCancelled, At: s.clock.Now(), Error: "cancelled by " + by.String(),
		})
		switch {
		case errors.Is(err, ErrStateMoved):
			rec, gerr := s.store.GetRelease(ctx, qe.ID)
			if gerr == nil && rec.State.Final() {
				continue // it ended meanwhile; its worker takes it out of the queue
			}
			return n, Errorf(op, Busy, "%s is releasing to %s right now and cannot be cancelled; use /release remove %s %s once it is done", key, e.Name, key, e.Name)
		case err != nil && KindOf(err) != NotFound:
			return n, fmt.Errorf("cancel release %s: %w", qe.ID, err)
		}
		// This call cancelled it when the update above went through, even
		// if a worker that found it cancelled took it out of the queue
		// first.
		cancelled := err == nil
		removed, err := s.store.RemoveQueued(ctx, e.Name, qe.ID)
		if err != nil {
			return n, fmt.Errorf("leave %s's queue: %w", e.Name, err)
		}
		if cancelled || removed {
			n++
			s.auditEnv(ctx, Event{Env: e.Name, Action: ActionCancelled, Actor: by.ID, Ticket: key, ReleaseID: qe.ID, Detail: "left the queue"})
		}
	}
	if n == 0 {
		if running.Ticket == key {
			return 0, Errorf(op, Busy, "%s is releasing to %s right now and cannot be cancelled; use /release remove %s %s once it is done", key, e.Name, key, e.Name)
		}
		return 0, Errorf(op, NotFound, "%s is not waiting in %s's queue", key, e.Name)
	}
	s.told("cancelled", s.notify.EnvChanged(ctx, EnvChange{Action: ActionCancelled, Env: e, By: by, Ticket: key}))
	return n, nil
}
