package workflow

import (
	"context"
	"fmt"
)

// checkRequiredEnv refuses a ticket that did not go through the env its
// env requires (requires_env, e.g. stg before prod): the ticket must be in
// that env now, or its trail there must show it released (or graduated
// from it) and not removed since.
func (r *run) checkRequiredEnv(ctx context.Context) error {
	req := r.env.RequiresEnv
	if req == "" {
		return nil
	}
	s := r.s
	key := r.rec.Ticket
	occ, err := s.store.Occupants(ctx, req)
	if err != nil {
		return fmt.Errorf("read %s's occupants: %w", req, err)
	}
	for _, o := range occ {
		if o.Ticket == key {
			r.step(ctx, StepChecked, fmt.Sprintf("%s is in %s (released by %s)", key, req, o.By))
			return nil
		}
	}
	evs, err := s.store.Events(ctx, req, 0)
	if err != nil {
		return fmt.Errorf("read %s's history: %w", req, err)
	}
	for _, e := range evs { // newest first
		if e.Ticket != key {
			continue
		}
		switch e.Action {
		case ActionRemoved, ActionRolledBack:
			how := "removed from"
			if e.Action == ActionRolledBack {
				how = "rolled back in"
			}
			return Errorf("release.requires", Forbidden, "%s was %s %s (%s by %s) and must be released there again before %s",
				key, how, req, e.At.UTC().Format("Jan 2 15:04 MST"), e.Actor, r.env.Name)
		case ActionReleased, ActionGraduated:
			r.step(ctx, StepChecked, fmt.Sprintf("%s went through %s (%s %s)", key, req, e.Action, e.At.UTC().Format("Jan 2 15:04 MST")))
			return nil
		}
	}
	return Errorf("release.requires", Forbidden, "%s has not been released to %s, and %s takes only tickets that went through %s first: release it there (/release %s %s) and try again",
		key, req, r.env.Name, req, key, req)
}
