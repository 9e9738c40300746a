package workflow

import (
	"context"
	"fmt"
)

// EnvStatus is one env on the board.
type EnvStatus struct {
	Env        Env
	Occupants  []Occupant
	Hold       *Hold        // nil when not held
	Queue      []QueueEntry // head first
	Lease      *Lease       // the release working on the env, nil when idle
	LastDeploy *Deployment  // nil when never deployed
	// Tenancies are the occupants' expiries, by ticket; nil when the env
	// has no occupancy policy.
	Tenancies map[TicketKey]Tenancy
}

// Status returns the board of the named envs, or of every env in
// configuration order when none is named. It reads the Store only.
func (s *Service) Status(ctx context.Context, envs ...string) ([]EnvStatus, error) {
	list := s.envs
	if len(envs) > 0 {
		list = nil
		for _, name := range envs {
			e, err := s.Env(name)
			if err != nil {
				return nil, err
			}
			list = append(list, e)
		}
	}
	out := make([]EnvStatus, 0, len(list))
	for _, e := range list {
		st, err := s.envStatus(ctx, e)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (s *Service) envStatus(ctx context.Context, e Env) (EnvStatus, error) {
	st := EnvStatus{Env: e}
	var err error
	if st.Occupants, err = s.store.Occupants(ctx, e.Name); err != nil {
		return st, fmt.Errorf("read %s's occupants: %w", e.Name, err)
	}
	if st.Tenancies, err = s.Tenancies(ctx, e, st.Occupants); err != nil {
		return st, err
	}
	if h, ok, err := s.store.Hold(ctx, e.Name); err != nil {
		return st, fmt.Errorf("read %s's hold: %w", e.Name, err)
	} else if ok {
		st.Hold = &h
	}
	if st.Queue, err = s.store.Queue(ctx, e.Name); err != nil {
		return st, fmt.Errorf("read %s's queue: %w", e.Name, err)
	}
	if l, ok, err := s.store.CurrentLease(ctx, e.Name); err != nil {
		return st, fmt.Errorf("read %s's lease: %w", e.Name, err)
	} else if ok {
		st.Lease = &l
	}
	if d, ok, err := s.store.LastDeploy(ctx, e.Name); err != nil {
		return st, fmt.Errorf("read %s's last deploy: %w", e.Name, err)
	} else if ok {
		st.LastDeploy = &d
	}
	return st, nil
}

// History returns env's newest n audit events, newest first (n <= 0: all
// the Store keeps).
func (s *Service) History(ctx context.Context, env string, n int) ([]Event, error) {
	e, err := s.Env(env)
	if err != nil {
		return nil, err
	}
	evs, err := s.store.Events(ctx, e.Name, n)
	if err != nil {
		return nil, fmt.Errorf("read %s's history: %w", e.Name, err)
	}
	return evs, nil
}

// GetRelease returns a release record with its journal.
func (s *Service) GetRelease(ctx context.Context, id string) (Release, error) {
	r, err := s.store.GetRelease(ctx, id)
	if err != nil {
		return Release{}, fmt.Errorf("read release %s: %w", id, err)
	}
	return r, nil
}
