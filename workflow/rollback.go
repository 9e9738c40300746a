package workflow

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
)

// ActionRolledBack is the audit action (and EnvChange action) of a
// rollback: an env branch back to the commit before a release.
const ActionRolledBack = "env.rolled_back"

// StepRolledBack is added to the journal of a release that was rolled
// back (Detail: by whom, to which commit).
const StepRolledBack = "rolled back"

// TrailerRollsBack is on a rollback commit: the id of the release it
// undid.
const TrailerRollsBack = "Rolls-Back"

// Rollback undoes release id in its env (not a production env: those
// deploy the production branch): under the env's lease it puts a new
// commit on top of the env branch whose tree is the branch's as it was
// before the release (never a force-push: the branch's history is kept),
// pushes it as a compare-and-swap, records the occupants git now shows,
// redeploys and tells the channel and the owners whose tickets left. The
// bot reads the branch's history as if the release had never been merged
// (see RollbackTarget), so releasing the ticket again, or syncing master,
// brings all of it back.
//
// The release must have pushed, and must still be the env's last change:
// a release made since would be undone too. Its requester may roll it
// back, and so may whoever may remove tickets from the env.
func (s *Service) Rollback(ctx context.Context, id string, by User) (EnvChange, error) {
	const op = "rollback"
	if by.ID == "" {
		return EnvChange{}, Errorf(op, Invalid, "who is asking? a user is required")
	}
	rec, err := s.store.GetRelease(ctx, id)
	if err != nil {
		return EnvChange{}, fmt.Errorf("read release %s: %w", id, err)
	}
	e, err := s.Env(rec.Env)
	if err != nil {
		return EnvChange{}, err
	}
	switch {
	case by.ID != rec.By && !e.May(ActRemove, by):
		return EnvChange{}, Errorf(op, Forbidden, "only %s, who released %s, or someone who may remove tickets from %s may roll it back", rec.By, rec.Ticket, e.Name)
	case e.Production:
		return EnvChange{}, Errorf(op, Invalid, "%s deploys %s: a release to it is rolled back by a revert in %s", e.Name, s.cfg.ProductionBranch, s.cfg.ProductionBranch)
	case !rec.State.Final():
		return EnvChange{}, Errorf(op, Busy, "the release of %s to %s is still %s; roll it back once it has ended", rec.Ticket, e.Name, rec.State)
	case rec.PushedSHA == "":
		return EnvChange{}, Errorf(op, Invalid, "the release of %s to %s pushed nothing (%s): there is nothing to roll back", rec.Ticket, e.Name, rec.State)
	}
	rid := "rollback-" + s.newID()
	l, err := s.takeEnv(ctx, op, e, by, rid)
	if err != nil {
		return EnvChange{}, err
	}
	log := s.log.With(slog.String("op", op), slog.String("env", e.Name), slog.String("release", id), slog.String("by", by.ID))
	defer s.releaseLease(ctx, l, log)
	why := orDefault(rec.Error, "asked for by "+by.ID)
	c := EnvChange{Action: ActionRolledBack, Env: e, By: by, Ticket: rec.Ticket, Reason: why, Undone: id}
	err = s.underLease(ctx, l, log, func(ctx context.Context) error {
		master, old, err := s.envTips(ctx, e)
		if err != nil {
			return err
		}
		if old != rec.PushedSHA {
			return s.movedOn(ctx, e, rec, old)
		}
		to, err := s.before(ctx, master, rec)
		if err != nil {
			return err
		}
		sha, err := s.repo.CommitTree(ctx, CommitRequest{Parent: old, TreeOf: to, Author: by.String(), When: s.clock.Now(),
			Message: rollbackMessage(e.Branch, to, rec, why, by.ID, rid)})
		if err != nil {
			return fmt.Errorf("write the rollback of %s: %w", e.Branch, err)
		}
		if err := s.pushFenced(ctx, l, e, old, sha); err != nil {
			return err
		}
		stored, err := s.store.Occupants(ctx, e.Name)
		if err != nil {
			return fmt.Errorf("read %s's occupants: %w", e.Name, err)
		}
		stayed, _, err := s.reconcileOccupants(ctx, master, sha, stored)
		if err != nil {
			return err
		}
		if err := s.store.SetOccupants(ctx, l, stayed); err != nil {
			return fmt.Errorf("record %s's occupants: %w", e.Name, err)
		}
		for _, o := range stored {
			if !slices.ContainsFunc(stayed, func(x Occupant) bool { return x.Ticket == o.Ticket }) {
				c.Left = append(c.Left, o)
			}
		}
		c.SHA, c.To, c.Stayed = sha, to, stayed
		s.auditEnv(ctx, Event{Env: e.Name, Action: ActionRolledBack, Actor: by.ID, Ticket: rec.Ticket, ReleaseID: rid, SHA: sha,
			Detail: fmt.Sprintf("%s rolled back release %s of %s: %s back to %s (%s); left: %s%s", by.ID, id, rec.Ticket, e.Branch, short(to), why, orDefault(joinKeys(occupantKeys(c.Left)), "nobody"), by.via())})
		if err := s.store.AppendStep(ctx, id, Step{Name: StepRolledBack, At: s.clock.Now(),
			Detail: fmt.Sprintf("by %s: %s back to %s (commit %s)", by.ID, e.Branch, short(to), short(sha))}); err != nil {
			log.Warn("journal the rollback", slog.Any("err", err))
		}
		if c.Deploy, err = s.redeploy(ctx, l, e, sha, by.ID, rid, nil, fmt.Sprintf("rollback of %s: ", id)); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	s.told("rolled back", s.notify.EnvChanged(ctx, c))
	log.Info("release rolled back", slog.String("sha", c.SHA), slog.String("to", c.To), slog.Int("left", len(c.Left)))
	return c, nil
}

// before is the env branch commit before release rec: down the
// first-parent chain from what it pushed, past the commits it made.
func (s *Service) before(ctx context.Context, master string, rec Release) (string, error) {
	commits, err := s.repo.Log(ctx, master, rec.PushedSHA)
	if err != nil {
		return "", fmt.Errorf("log %s..%s: %w", short(master), short(rec.PushedSHA), err)
	}
	byID := make(map[string]Commit, len(commits))
	for _, c := range commits {
		byID[c.SHA] = c
	}
	h := rec.PushedSHA
	for {
		c, ok := byID[h]
		if !ok || !IsReleaseMerge(c.Message) || !slices.Contains(Trailers(c.Message)[TrailerReleaseID], rec.ID) || len(c.Parents) == 0 {
			break
		}
		h = c.Parents[0]
	}
	if h == rec.PushedSHA {
		return "", Errorf("rollback", Invalid, "%s is not a commit of the release %s of %s: nothing was changed", short(h), rec.ID, rec.Ticket)
	}
	return h, nil
}

// movedOn is the error of a rollback of rec when the env branch is at tip,
// not at what rec pushed: rolled back already, or changed since.
func (s *Service) movedOn(ctx context.Context, e Env, rec Release, tip string) error {
	const op = "rollback"
	if tip == "" {
		return Errorf(op, Invalid, "%s does not exist any more: nothing to roll back", e.Branch)
	}
	since, err := s.repo.Log(ctx, rec.PushedSHA, tip)
	if err != nil {
		return fmt.Errorf("log %s..%s: %w", short(rec.PushedSHA), short(tip), err)
	}
	var subjects []string
	for _, c := range since {
		if IsReleaseMerge(c.Message) && slices.Contains(Trailers(c.Message)[TrailerRollsBack], rec.ID) {
			return Errorf(op, Invalid, "the release of %s to %s was rolled back already (%s, by %s)", rec.Ticket, e.Name, short(c.SHA), orDefault(firstOf(Trailers(c.Message)[TrailerReleasedFor]), "someone"))
		}
		if len(subjects) < 3 {
			subjects = append(subjects, fmt.Sprintf("%q", c.Subject))
		}
	}
	return Errorf(op, Busy, "%s changed since the release of %s (%s): rolling back now would undo that too; nothing was changed. Take %s out with /release remove %s %s instead",
		e.Branch, rec.Ticket, orDefault(joinComma(subjects), "its branch was rebuilt"), rec.Ticket, rec.Ticket, e.Name)
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
