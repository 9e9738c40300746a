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

// RollbackRequest asks to undo a release.
type RollbackRequest struct {
	Release string // the ID of the release to undo
	// Ticket and Env name it instead of Release: the ticket's newest
	// release to the env in the env's history.
	Ticket, Env string
	By          User
	// ID is the ID of a production rollback's own release (its messages
	// find their channel by it, and a repeated request by it); "" makes
	// one.
	ID string
}

// ActionRollbackRequested is the EnvChange action of a production
// rollback asked for: a release job that deploys the earlier commit once
// the env's approvers approve.
const ActionRollbackRequested = "env.rollback_requested"

// StepRollbackOf journals that a release is a production rollback
// (Detail: the release it undoes, then the commit it deploys).
const StepRollbackOf = "rollback of"

// StepRolledBack is added to the journal of a release that was rolled
// back (Detail: by whom, to which commit).
const StepRolledBack = "rolled back"

// TrailerRollsBack is on a rollback commit: the id of the release it
// undid.
const TrailerRollsBack = "Rolls-Back"

// Rollback undoes release id in its env. A production env deploys the
// production branch, which a rollback does not change: there it asks for
// a release job that deploys the env's previous deploy again, after the
// same approvals as a release (see rollbackProd). In other envs, under the env's lease it puts a new
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
func (s *Service) Rollback(ctx context.Context, req RollbackRequest) (EnvChange, error) {
	const op = "rollback"
	id, by := req.Release, req.By
	if by.ID == "" {
		return EnvChange{}, Errorf(op, Invalid, "who is asking? a user is required")
	}
	if id == "" {
		var err error
		if id, err = s.lastReleaseOf(ctx, req.Ticket, req.Env); err != nil {
			return EnvChange{}, err
		}
	}
	rec, err := s.store.GetRelease(ctx, id)
	if err != nil {
		return EnvChange{}, fmt.Errorf("read release %s: %w", id, err)
	}
	e, err := s.Env(rec.Env)
	if err != nil {
		return EnvChange{}, err
	}
	if e.Production {
		return s.rollbackProd(ctx, e, rec, by, req.ID)
	}
	switch {
	case by.ID != rec.By && !e.May(ActRemove, by):
		return EnvChange{}, Errorf(op, Forbidden, "only %s, who released %s, or someone who may remove tickets from %s may roll it back", rec.By, rec.Ticket, e.Name)
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
			// The branch is rolled back: say so, and what is left to do.
			left := "no ticket"
			if len(c.Left) > 0 {
				left = joinKeys(occupantKeys(c.Left))
			}
			return Wrap(op, KindOf(err), fmt.Sprintf("%s is rolled back to %s (commit %s) and %s left it, but %s could not be redeployed: %s; deploy it again once that is fixed (code-releaser deploy %s)",
				e.Branch, short(to), short(sha), left, e.Name, orDefault(UserMessage(err), "see the bot's log"), e.Name), err)
		}
		return nil
	})
	if err != nil && c.SHA == "" {
		return c, err
	}
	s.told("rolled back", s.notify.EnvChanged(ctx, c))
	for _, o := range c.Left {
		s.commentTicket(ctx, o.Ticket, fmt.Sprintf("Code-Releaser: %s rolled back release %s of %s in %s: %s is back to %s and %s left it (why: %s).",
			by.ID, id, rec.Ticket, e.Name, e.Branch, short(c.To), o.Ticket, why))
	}
	if err != nil {
		return c, err
	}
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
			return Errorf(op, Invalid, "the release of %s to %s was rolled back already (%s, by %s)", rec.Ticket, e.Name, short(c.SHA), orDefault(firstNonEmpty(Trailers(c.Message)[TrailerReleasedFor]...), "someone"))
		}
		if len(subjects) < 3 {
			subjects = append(subjects, fmt.Sprintf("%q", c.Subject))
		}
	}
	return Errorf(op, Busy, "%s changed since the release of %s (%s): rolling back now would undo that too; nothing was changed. Take %s out with /release remove %s %s instead",
		e.Branch, rec.Ticket, orDefault(joinComma(subjects), "its branch was rebuilt"), rec.Ticket, rec.Ticket, e.Name)
}

// rollbackProd asks for the deploy of production env e's deploy before
// release rec, in its place: a release job (so it queues behind the env's
// lease, and is resumed by another replica) that needs the env's
// approvals like a release. Whoever may release to e may ask. rec must be
// the env's last deploy; the commit before it is the newest successful
// deploy of another release the trail records.
func (s *Service) rollbackProd(ctx context.Context, e Env, rec Release, by User, id string) (EnvChange, error) {
	const op = "rollback"
	if !rec.State.Final() {
		return EnvChange{}, Errorf(op, Busy, "the release of %s to %s is still %s; roll it back once it has ended", rec.Ticket, e.Name, rec.State)
	}
	if _, _, ok := rec.RollbackOf(); ok {
		return EnvChange{}, Errorf(op, Invalid, "release %s is itself a rollback; to go further back, release a revert through %s", rec.ID, s.cfg.ProductionBranch)
	}
	last, ok, err := s.store.LastDeploy(ctx, e.Name)
	if err != nil {
		return EnvChange{}, fmt.Errorf("read %s's last deploy: %w", e.Name, err)
	}
	if !ok || last.ReleaseID != rec.ID {
		what := "nothing is recorded"
		if ok {
			what = fmt.Sprintf("it is release %s's (%s)", last.ReleaseID, short(last.Result.SHA))
		}
		return EnvChange{}, Errorf(op, Invalid, "the release of %s is not %s's last deploy (%s): only the last deploy can be rolled back; nothing was changed", rec.Ticket, e.Name, what)
	}
	to, err := s.previousDeploy(ctx, e, rec.ID, last.Result.SHA)
	if err != nil {
		return EnvChange{}, err
	}
	r, pos, err := s.Submit(ctx, ReleaseRequest{ID: id, Ticket: string(rec.Ticket), Env: e.Name, User: by, RollbackOf: rec.ID, RollbackTo: to})
	if err != nil {
		return EnvChange{}, err
	}
	s.log.Info("production rollback asked", slog.String("env", e.Name), slog.String("undoes", rec.ID), slog.String("to", to), slog.String("release", r.ID), slog.Int("position", pos))
	return EnvChange{Action: ActionRollbackRequested, Env: e, By: by, Ticket: rec.Ticket, Undone: rec.ID, To: to, SHA: last.Result.SHA, Release: r.ID}, nil
}

// previousDeploy is the commit of env's newest successful deploy by
// another release than undone (whose deploy was at sha), from the trail.
func (s *Service) previousDeploy(ctx context.Context, e Env, undone, sha string) (string, error) {
	evs, err := s.store.Events(ctx, e.Name, 500)
	if err != nil {
		return "", fmt.Errorf("read %s's history: %w", e.Name, err)
	}
	for _, ev := range evs { // newest first
		if ev.Action != ActionDeployed || ev.Status != DeploySucceeded || ev.ReleaseID == undone || ev.SHA == "" {
			continue
		}
		if ev.SHA == sha {
			return "", Errorf("rollback", Invalid, "%s ran %s before this release too: redeploying it would change nothing; release a revert through %s", e.Name, short(sha), s.cfg.ProductionBranch)
		}
		return ev.SHA, nil
	}
	return "", Errorf("rollback", NotFound, "no earlier successful deploy of %s is recorded to go back to; release a revert through %s", e.Name, s.cfg.ProductionBranch)
}

// rollbackOf says whether the run is a production rollback, of which
// release, to which commit.
func (r *run) rollbackOf() (of, to string, ok bool) { return r.rec.RollbackOf() }

// prodRollback deploys to (an earlier deploy of the production env) in
// place of release of, after the env's approvals, and tells the channel.
func (r *run) prodRollback(ctx context.Context, of, to string) error {
	const op = "rollback"
	s := r.s
	master, err := r.fetchProductionTip(ctx)
	if err != nil {
		return err
	}
	if in, err := s.repo.IsAncestor(ctx, to, master); err != nil {
		return fmt.Errorf("is %s in %s: %w", short(to), s.cfg.ProductionBranch, err)
	} else if !in {
		return Errorf(op, Invalid, "%s is not in %s's history: %s deploys %s only", short(to), s.cfg.ProductionBranch, r.env.Name, s.cfg.ProductionBranch)
	}
	if why, err := r.stillToRollBack(ctx, of); err != nil {
		return err
	} else if why != "" {
		return Errorf(op, Invalid, "%s; nothing was deployed", why)
	}
	r.step(ctx, StepChecked, fmt.Sprintf("%s is in %s and was deployed to %s before release %s", short(to), s.cfg.ProductionBranch, r.env.Name, of))
	r.update(ctx, ReleaseUpdate{MergedSHA: to})
	if err := r.approved(ctx, to); err != nil {
		return err
	}
	if _, err := r.deploy(ctx, to); err != nil {
		return err
	}
	if err := s.store.AppendStep(ctx, of, Step{Name: StepRolledBack, At: s.clock.Now(),
		Detail: fmt.Sprintf("by %s: %s runs %s again (release %s)", r.rec.By, r.env.Name, short(to), r.rec.ID)}); err != nil {
		r.log.Warn("journal the rollback", slog.Any("err", err))
	}
	r.audit(ctx, Event{Action: ActionRolledBack, SHA: to, Detail: fmt.Sprintf("%s rolled back release %s of %s: %s runs %s again", r.rec.By, of, r.rec.Ticket, r.env.Name, short(to))})
	r.announce(ctx, nil, nil)
	return nil
}

// stillToRollBack says why release of can no longer be rolled back
// (something else was deployed since), "" while it can.
func (r *run) stillToRollBack(ctx context.Context, of string) (string, error) {
	last, ok, err := r.s.store.LastDeploy(ctx, r.env.Name)
	if err != nil {
		return "", fmt.Errorf("read %s's last deploy: %w", r.env.Name, err)
	}
	if !ok || last.ReleaseID != of {
		return fmt.Sprintf("%s was deployed again after release %s (by release %s, %s): the rollback would undo that instead", r.env.Name, of, last.ReleaseID, short(last.Result.SHA)), nil
	}
	return "", nil
}

// preview is the approvers' preview of deploying sha; for a rollback, what
// leaves the env instead of what comes.
func (r *run) preview(ctx context.Context, sha string) (Preview, error) {
	p, err := r.s.preview(ctx, r.env, sha)
	if err != nil {
		return p, err
	}
	of, _, ok := r.rollbackOf()
	if !ok {
		return p, nil
	}
	p.RollbackOf, p.Soak = of, nil
	if p.Base != "" {
		leaving, err := r.s.repo.Log(ctx, sha, p.Base)
		if err != nil {
			return p, fmt.Errorf("log %s..%s: %w", short(sha), short(p.Base), err)
		}
		p.LeavingTickets = ticketsNamed(leaving)
		p.Leaving, p.LeavingMore = capCommits(leaving)
	}
	p.Digest = p.digest()
	return p, nil
}

// lastReleaseOf is the ID of ticket's newest release to env that ended
// (released or failed), from env's history.
func (s *Service) lastReleaseOf(ctx context.Context, ticket, env string) (string, error) {
	e, err := s.Env(env)
	if err != nil {
		return "", err
	}
	key, err := ParseTicketKey(ticket)
	if err != nil {
		return "", err
	}
	evs, err := s.store.Events(ctx, e.Name, 500)
	if err != nil {
		return "", fmt.Errorf("read %s's history: %w", e.Name, err)
	}
	for _, ev := range evs { // newest first
		if ev.Ticket == key && ev.ReleaseID != "" && (ev.Action == ActionReleased || ev.Action == ActionFailed) {
			return ev.ReleaseID, nil
		}
	}
	return "", Errorf("rollback", NotFound, "no release of %s to %s is in its history to roll back", key, e.Name)
}
