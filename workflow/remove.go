package workflow

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// Remove takes ticket out of env: under the env's lease it rebuilds the
// env branch from the production branch's tip plus the other occupants'
// released commits, in the order they came in (occupants now in the
// production branch graduate and leave). When one of them no longer
// merges it stops and reports the conflict, pushing nothing. Otherwise it
// pushes the branch as a compare-and-swap, records the occupants,
// redeploys and tells the people concerned.
func (s *Service) Remove(ctx context.Context, ticket, env string, by User) (EnvChange, error) {
	e, key, err := s.removeRequest(ticket, env, by)
	if err != nil {
		return EnvChange{}, err
	}
	return s.removeTicket(ctx, e, key, by, removal{})
}

// removal says why a ticket is removed: why (its expiry, a reason given)
// and askedBy (who asked, in a handoff) go to the audit trail and the
// notice; release, when set, is the release of the ticket the removal is
// about: a ticket released again since is left alone (NotFound).
type removal struct {
	why, askedBy, release string
}

// removeRequest checks a remove without I/O: the env, the user's right
// to remove tickets from it, the ticket key.
func (s *Service) removeRequest(ticket, env string, by User) (Env, TicketKey, error) {
	e, err := s.lifecycleEnv("remove", env, ActRemove, by)
	if err != nil {
		return Env{}, "", err
	}
	key, err := ParseTicketKey(ticket)
	if err != nil {
		return Env{}, "", err
	}
	return e, key, nil
}

// removeTicket is Remove once the user is allowed, for the reasons in rm.
func (s *Service) removeTicket(ctx context.Context, e Env, key TicketKey, by User, rm removal) (EnvChange, error) {
	why, askedBy := rm.why, rm.askedBy
	const op = "remove"
	if e.Production {
		return EnvChange{}, Errorf(op, Invalid, "%s deploys %s; a ticket leaves it by a revert in %s", e.Name, s.cfg.ProductionBranch, s.cfg.ProductionBranch)
	}
	occ, err := s.store.Occupants(ctx, e.Name)
	if err != nil {
		return EnvChange{}, fmt.Errorf("read %s's occupants: %w", e.Name, err)
	}
	if !slices.ContainsFunc(occ, func(o Occupant) bool { return o.Ticket == key }) {
		in := "nothing"
		if len(occ) > 0 {
			in = joinKeys(occupantKeys(occ))
		}
		return EnvChange{}, Errorf(op, NotFound, "%s is not in %s (in it: %s)", key, e.Name, in)
	}
	id := "remove-" + s.newID()
	l, err := s.takeEnv(ctx, op, e, by, id)
	if err != nil {
		return EnvChange{}, err
	}
	log := s.log.With(slog.String("op", op), slog.String("env", e.Name), slog.String("ticket", string(key)), slog.String("by", by.ID))
	defer s.releaseLease(ctx, l, log)
	c := EnvChange{Action: ActionRemoved, Env: e, By: by, Ticket: key, Reason: why, AskedBy: askedBy}
	err = s.underLease(ctx, l, log, func(ctx context.Context) error {
		// Read again under the lease: a release may have changed them.
		occ, err := s.store.Occupants(ctx, e.Name)
		if err != nil {
			return fmt.Errorf("read %s's occupants: %w", e.Name, err)
		}
		if i := slices.IndexFunc(occ, func(o Occupant) bool { return o.Ticket == key }); i < 0 {
			return Errorf(op, NotFound, "%s left %s meanwhile; nothing was changed", key, e.Name)
		} else if rm.release != "" && occ[i].ReleaseID != rm.release {
			return Errorf(op, NotFound, "%s was released to %s again meanwhile; nothing was changed", key, e.Name)
		}
		master, old, err := s.envTips(ctx, e)
		if err != nil {
			return err
		}
		head := master
		var stayed, left []Occupant
		for _, o := range occ {
			if o.Ticket == key {
				left = append(left, o)
				continue
			}
			if in, err := s.repo.IsAncestor(ctx, o.TicketSHA, master); err == nil && in {
				left = append(left, o) // graduated
				s.auditEnv(ctx, Event{Env: e.Name, Action: ActionGraduated, Actor: releasedByValue, Ticket: o.Ticket, SHA: o.TicketSHA,
					Detail: fmt.Sprintf("%s is in %s and left %s", o.Ticket, s.cfg.ProductionBranch, e.Name)})
				continue
			}
			out, err := s.repo.Merge(ctx, MergeRequest{
				Ours: head, Theirs: o.TicketSHA, OursLabel: e.Branch, TheirsLabel: orBranch(o),
				Message: releaseMessage(o.Ticket, e.Name, "rebuilt after removing "+string(key), o.By, id),
				Author:  by.String(), When: s.clock.Now(),
			})
			if err != nil {
				return fmt.Errorf("merge %s into %s: %w", o.Ticket, e.Branch, err)
			}
			if len(out.Conflicts) > 0 {
				rep := &ConflictReport{Stage: ConflictRebuild, Ticket: o.Ticket, Env: e.Name, Ours: e.Branch, Theirs: orBranch(o), Files: out.Conflicts,
					Hint: fmt.Sprintf("nothing was pushed; %s no longer merges without %s: remove it too, or reset %s and release the tickets again", o.Ticket, key, e.Name)}
				return &Error{Op: "remove.merge", Kind: Conflict, Err: rep,
					Msg: fmt.Sprintf("cannot take %s out of %s: rebuilt without it, %s (of %s) conflicts in %s; nothing was pushed. Remove %s too, or reset %s and release the tickets again",
						key, e.Name, o.Ticket, o.By, joinComma(rep.Paths()), o.Ticket, e.Name)}
			}
			head = out.SHA
			o.MergeSHA = out.SHA
			stayed = append(stayed, o)
		}
		if head != old {
			if err := s.pushFenced(ctx, l, e, old, head); err != nil {
				return err
			}
		}
		if err := s.store.SetOccupants(ctx, l, stayed); err != nil {
			return fmt.Errorf("record %s's occupants: %w", e.Name, err)
		}
		c.SHA, c.Left, c.Stayed = head, left, stayed
		s.auditEnv(ctx, Event{Env: e.Name, Action: ActionRemoved, Actor: by.ID, Ticket: key, ReleaseID: id, SHA: head,
			Detail: fmt.Sprintf("%s removed %s%s; %s rebuilt from %s@%s with %s%s", by.ID, owned(left, key), because(why, askedBy), e.Branch, s.cfg.ProductionBranch, short(master), joinKeys(occupantKeys(stayed)), by.via())})
		if c.Deploy, err = s.redeploy(ctx, l, e, head, by.ID, id, nil, ""); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	s.told("removed", s.notify.EnvChanged(ctx, c))
	log.Info("ticket removed", slog.String("sha", c.SHA), slog.Int("stayed", len(c.Stayed)))
	return c, nil
}

// ConflictRebuild: rebuilding an env branch without a removed ticket, an
// occupant no longer merges.
const ConflictRebuild ConflictStage = "rebuild"

func orBranch(o Occupant) string {
	if o.Branch != "" {
		return o.Branch
	}
	return string(o.Ticket)
}

// because is the audit trail's note of why something was done.
func because(why, askedBy string) string {
	if askedBy != "" {
		why = strings.TrimPrefix(why+"; asked for by "+askedBy, "; ")
	}
	if why == "" {
		return ""
	}
	return " (" + why + ")"
}
