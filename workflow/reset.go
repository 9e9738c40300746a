package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// Reset makes env's branch the production branch again: it takes the
// env's lease (refusing while a release works on it), pushes the
// production branch's tip to the env branch as a compare-and-swap, clears
// the occupants, redeploys and tells the occupants that they left. The
// production env cannot be reset.
func (s *Service) Reset(ctx context.Context, env string, by User) (EnvChange, error) {
	const op = "reset"
	e, err := s.lifecycleEnv(op, env, ActReset, by)
	if err != nil {
		return EnvChange{}, err
	}
	if e.Production {
		return EnvChange{}, Errorf(op, Invalid, "%s deploys %s itself and cannot be reset", e.Name, s.cfg.ProductionBranch)
	}
	id := "reset-" + s.newID()
	l, err := s.takeEnv(ctx, op, e, by, id)
	if err != nil {
		return EnvChange{}, err
	}
	log := s.log.With(slog.String("op", op), slog.String("env", e.Name), slog.String("by", by.ID))
	defer s.releaseLease(ctx, l, log)
	c := EnvChange{Action: ActionReset, Env: e, By: by}
	err = s.underLease(ctx, l, log, func(ctx context.Context) error {
		master, old, err := s.envTips(ctx, e)
		if err != nil {
			return err
		}
		if c.Left, err = s.store.Occupants(ctx, e.Name); err != nil {
			return fmt.Errorf("read %s's occupants: %w", e.Name, err)
		}
		if old != master {
			if err := s.pushFenced(ctx, l, e, old, master); err != nil {
				return err
			}
		}
		if err := s.store.SetOccupants(ctx, l, nil); err != nil {
			return fmt.Errorf("clear %s's occupants: %w", e.Name, err)
		}
		c.SHA = master
		s.auditEnv(ctx, Event{Env: e.Name, Action: ActionReset, Actor: by.ID, ReleaseID: id, SHA: master,
			Detail: fmt.Sprintf("%s reset %s := %s@%s; %d ticket(s) left: %s%s", by.ID, e.Branch, s.cfg.ProductionBranch, short(master), len(c.Left), ownedAll(c.Left), by.via())})
		if c.Deploy, err = s.redeploy(ctx, l, e, master, by.ID, id, nil, ""); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	s.told("reset", s.notify.EnvChanged(ctx, c))
	log.Info("env reset", slog.String("sha", c.SHA), slog.Int("left", len(c.Left)))
	return c, nil
}

// pushFenced checks l is still env's lease and pushes env's branch from old
// to new as a compare-and-swap; a branch moved by someone else is Busy.
func (s *Service) pushFenced(ctx context.Context, l Lease, e Env, old, new string) error {
	cur, ok, err := s.store.CurrentLease(ctx, e.Name)
	if err != nil {
		return fmt.Errorf("check %s's lease: %w", e.Name, err)
	}
	if !ok || cur.Token != l.Token || cur.Fence != l.Fence {
		return ErrLeaseLost
	}
	if err := s.repo.Push(ctx, e.Branch, old, new); err != nil {
		if errors.Is(err, ErrRefMoved) {
			return Wrap("git.push", Busy, fmt.Sprintf("%s moved on the remote while we worked (someone pushed to it); nothing was changed, try again", e.Branch), err)
		}
		return fmt.Errorf("push %s: %w", e.Branch, err)
	}
	return nil
}

// envTips fetches, then reads the production branch's tip (NotFound when
// it does not exist) and e's branch's tip ("" when it does not exist).
func (s *Service) envTips(ctx context.Context, e Env) (master, old string, err error) {
	if err := s.repo.Fetch(ctx); err != nil {
		return "", "", fmt.Errorf("fetch: %w", err)
	}
	if master, err = s.tip(ctx, s.cfg.ProductionBranch); err != nil {
		return "", "", err
	}
	old, exists, err := s.repo.Tip(ctx, e.Branch)
	if err != nil {
		return "", "", fmt.Errorf("read %s: %w", e.Branch, err)
	}
	if !exists {
		old = ""
	}
	return master, old, nil
}

// tip returns a branch's tip, NotFound when it does not exist.
func (s *Service) tip(ctx context.Context, branch string) (string, error) {
	sha, ok, err := s.repo.Tip(ctx, branch)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", branch, err)
	}
	if !ok {
		return "", Errorf("git.tip", NotFound, "the repository has no %s branch", branch)
	}
	return sha, nil
}

func occupantKeys(os []Occupant) []TicketKey {
	out := make([]TicketKey, len(os))
	for i, o := range os {
		out[i] = o.Ticket
	}
	return out
}

// owned names ticket key with its owner among occ ("OPS-1 of U2").
func owned(occ []Occupant, key TicketKey) string {
	for _, o := range occ {
		if o.Ticket == key {
			return fmt.Sprintf("%s of %s", key, o.By)
		}
	}
	return string(key)
}

// ownedAll names every occupant with its owner, "none" when empty.
func ownedAll(occ []Occupant) string {
	if len(occ) == 0 {
		return "none"
	}
	s := make([]string, len(occ))
	for i, o := range occ {
		s[i] = owned(occ[i:i+1], o.Ticket)
	}
	return joinComma(s)
}
