package workflow

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
)

// occupy records the env's occupants after a push, as git shows them on
// the pushed branch (the store's list is a cache that may have been lost
// or gone stale): the bot's release merges whose ticket is not in master,
// this ticket joining or refreshed at the end. Occupants the store had
// that are in master now have graduated and leave. It runs before the
// deploy so that the board matches the branch even when the deploy fails.
func (r *run) occupy(ctx context.Context, master string, br Branch, b built) (occupants, graduated []Occupant, err error) {
	s := r.s
	var stored []Occupant
	if !b.created {
		// A new env branch holds nobody from before.
		if stored, err = s.store.Occupants(ctx, r.env.Name); err != nil {
			return nil, nil, fmt.Errorf("read %s's occupants: %w", r.env.Name, err)
		}
	}
	inGit, left, err := s.reconcileOccupants(ctx, master, b.merged, stored)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s's occupants from %s: %w", r.env.Name, r.env.Branch, err)
	}
	for _, o := range inGit {
		if o.Ticket != r.rec.Ticket {
			occupants = append(occupants, o)
		}
	}
	for _, g := range left {
		if g.Ticket != r.rec.Ticket {
			graduated = append(graduated, g)
		}
	}
	if before := withoutTicket(stored, r.rec.Ticket); !sameOccupants(before, occupants) {
		r.log.Warn("the store's occupants disagreed with git; using git's",
			slog.Any("store", occupantKeys(before)), slog.Any("git", occupantKeys(occupants)))
	}
	in, err := s.repo.IsAncestor(ctx, br.SHA, master)
	if err != nil {
		r.log.Warn("check graduation", slog.String("occupant", string(r.rec.Ticket)), slog.Any("err", err))
	}
	if err != nil || !in {
		occupants = append(occupants, Occupant{
			Ticket: r.rec.Ticket, Branch: br.Name, TicketSHA: br.SHA, MergeSHA: b.merged,
			By: r.rec.By, At: s.clock.Now(), ReleaseID: r.rec.ID,
		})
	}
	if err := s.store.SetOccupants(ctx, r.lease, occupants); err != nil {
		return nil, nil, fmt.Errorf("record %s's occupants: %w", r.env.Name, err)
	}
	for _, g := range graduated {
		r.audit(ctx, Event{Action: ActionGraduated, Actor: "code-releaser", Ticket: g.Ticket, SHA: g.TicketSHA,
			Detail: fmt.Sprintf("%s is in %s and left %s", g.Ticket, s.cfg.ProductionBranch, r.env.Name)})
	}
	detail := fmt.Sprintf("%d in %s", len(occupants), r.env.Name)
	if len(graduated) > 0 {
		detail += fmt.Sprintf(", %d graduated", len(graduated))
	}
	r.step(ctx, StepOccupied, detail)
	return occupants, graduated, nil
}

// withoutTicket returns os without key's entry.
func withoutTicket(os []Occupant, key TicketKey) []Occupant {
	var out []Occupant
	for _, o := range os {
		if o.Ticket != key {
			out = append(out, o)
		}
	}
	return out
}

// culprits names the occupants whose own commits (those not in master)
// touched any of paths. The occupants are read from the env branch in git.
func (r *run) culprits(ctx context.Context, paths []string) ([]Culprit, error) {
	s := r.s
	master, err := r.productionTip(ctx)
	if err != nil {
		return nil, err
	}
	tip, _, err := s.repo.Tip(ctx, r.env.Branch)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.env.Branch, err)
	}
	stored, err := s.store.Occupants(ctx, r.env.Name)
	if err != nil {
		return nil, fmt.Errorf("read %s's occupants: %w", r.env.Name, err)
	}
	occupants, _, err := s.reconcileOccupants(ctx, master, tip, stored)
	if err != nil {
		return nil, fmt.Errorf("read %s's occupants from %s: %w", r.env.Name, r.env.Branch, err)
	}
	var out []Culprit
	for _, o := range occupants {
		if o.TicketSHA == "" {
			continue
		}
		commits, err := s.repo.Log(ctx, master, o.TicketSHA)
		if err != nil {
			r.log.Warn("conflict attribution", slog.String("occupant", string(o.Ticket)), slog.Any("err", err))
			continue
		}
		c := Culprit{Occupant: o}
		for _, cm := range commits {
			touched := false
			for _, f := range cm.Files {
				if slices.Contains(paths, f) {
					touched = true
					if !slices.Contains(c.Files, f) {
						c.Files = append(c.Files, f)
					}
				}
			}
			if touched {
				c.Commits = append(c.Commits, cm)
			}
		}
		if len(c.Files) > 0 {
			slices.Sort(c.Files)
			out = append(out, c)
		}
	}
	return out, nil
}

// deploy deploys sha to the env and records it as the env's last deploy.
func (r *run) deploy(ctx context.Context, sha string) (DeployResult, error) {
	s := r.s
	if err := r.checkLease(ctx); err != nil {
		return DeployResult{}, err
	}
	r.step(ctx, StepDeploying, short(sha)+" to "+r.env.Name)
	res, err := s.deployer.Deploy(WithReleaseID(ctx, r.rec.ID), r.env, sha, func(st Step) {
		if st.At.IsZero() {
			st.At = s.clock.Now()
		}
		r.step(ctx, st.Name, st.Detail)
	})
	if err != nil {
		return res, fmt.Errorf("deploy %s to %s: %w", short(sha), r.env.Name, err)
	}
	if res.SHA == "" {
		res.SHA = sha
	}
	r.deployed = res // known even when it cannot be recorded
	d := Deployment{Env: r.env.Name, ReleaseID: r.rec.ID, Ticket: r.rec.Ticket, By: r.rec.By, At: s.clock.Now(), Result: res}
	if err := s.store.SetLastDeploy(ctx, r.lease, d); err != nil {
		return res, fmt.Errorf("record %s's deploy: %w", r.env.Name, err)
	}
	r.audit(ctx, Event{Action: ActionDeployed, SHA: sha, Status: res.Status, Detail: string(res.Status) + ": " + res.Summary})
	if res.Status == DeployFailed {
		return res, Errorf("deploy", Invalid, "the deploy of %s to %s failed: %s", short(sha), r.env.Name, res.Summary)
	}
	r.update(ctx, ReleaseUpdate{DeployedSHA: sha})
	r.step(ctx, StepDeployed, string(res.Status)+": "+res.Summary)
	return res, nil
}

// announce tells everyone the release is done and who else is in the env.
func (r *run) announce(ctx context.Context, occupants, graduated []Occupant) {
	var others []Occupant
	for _, o := range occupants {
		if o.Ticket != r.rec.Ticket {
			others = append(others, o)
		}
	}
	r.update(ctx, ReleaseUpdate{State: StateReleased})
	// In the trail before anyone is told: whoever reads the announcement
	// and asks for the next env at once (prod requires stg) must find the
	// release there, as they would find a failure (finish records those
	// before it tells).
	r.audit(ctx, Event{Action: ActionReleased, SHA: r.rec.DeployedSHA})
	r.releasedInTrail = true
	a := Announcement{
		Release: r.rec, Env: r.env, Ticket: r.ticket,
		Occupants: occupants, Others: others, Graduated: graduated, Deploy: r.deployed,
	}
	a.RollbackOf, _, _ = r.rollbackOf()
	if err := r.s.notify.Released(ctx, a); err != nil {
		r.log.Warn("notify", slog.String("what", "released"), slog.Any("err", err))
		return
	}
	r.step(ctx, StepAnnounced, fmt.Sprintf("%d other occupants mentioned", len(others)))
}
