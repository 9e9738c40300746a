package workflow

import (
	"context"
	"fmt"
	"regexp"
)

// prod deploys the production branch's tip after checking the ticket is in
// it. Nothing is merged or pushed.
func (r *run) prod(ctx context.Context) error {
	master, err := r.fetchProductionTip(ctx)
	if err != nil {
		return err
	}
	if err := r.checkInProduction(ctx, master); err != nil {
		return err
	}
	if err := r.checkRequiredEnv(ctx); err != nil {
		return err
	}
	if err := r.checkSoak(ctx, master); err != nil {
		return err
	}
	r.update(ctx, ReleaseUpdate{MergedSHA: master})

	if err := r.approved(ctx, master); err != nil {
		return err
	}
	if _, err := r.deploy(ctx, master); err != nil {
		return err
	}
	r.announce(ctx, nil, nil)
	return nil
}

// checkInProduction refuses a ticket whose branch is not in master. A
// ticket without a branch (deleted after its pull request) passes when a
// commit since the last prod deploy names it.
func (r *run) checkInProduction(ctx context.Context, master string) error {
	const op = "release.prod"
	s := r.s
	key := r.rec.Ticket
	br, err := s.repo.ResolveTicket(ctx, key)
	if KindOf(err) == NotFound {
		last, ok, lerr := s.store.LastDeploy(ctx, r.env.Name)
		if lerr != nil {
			return fmt.Errorf("read %s's last deploy: %w", r.env.Name, lerr)
		}
		if !ok || last.Result.SHA == "" {
			return Wrap(op, NotFound, fmt.Sprintf("%s has no branch and prod has no recorded deploy to look for it since; release prod by a ticket that has a branch", key), err)
		}
		commits, lerr := s.repo.Log(ctx, last.Result.SHA, master)
		if lerr != nil {
			return fmt.Errorf("log %s..%s: %w", short(last.Result.SHA), short(master), lerr)
		}
		word := regexp.MustCompile(`(^|[^A-Za-z0-9_-])` + regexp.QuoteMeta(string(key)) + `($|[^0-9])`)
		for _, c := range commits {
			if word.MatchString(c.Message) || word.MatchString(c.Subject) {
				r.step(ctx, StepChecked, fmt.Sprintf("in %s: commit %s names %s", s.cfg.ProductionBranch, short(c.SHA), key))
				return nil
			}
		}
		return Wrap(op, NotFound, fmt.Sprintf("%s has no branch and no commit in %s since the last prod deploy names it", key, s.cfg.ProductionBranch), err)
	}
	if err != nil {
		return fmt.Errorf("resolve %s's branch: %w", key, err)
	}
	if err := ValidateBranchName(br.Name); err != nil {
		return err
	}
	r.update(ctx, ReleaseUpdate{Branch: br.Name, TicketSHA: br.SHA})
	r.step(ctx, StepResolved, br.Name+"@"+short(br.SHA))
	in, err := s.repo.IsAncestor(ctx, br.SHA, master)
	if err != nil {
		return fmt.Errorf("is %s in %s: %w", short(br.SHA), s.cfg.ProductionBranch, err)
	}
	if !in {
		return Errorf(op, Forbidden, "%s is not in %s yet: its branch %s (at %s) has commits %s lacks. Merge its pull request first; prod deploys %s only",
			key, s.cfg.ProductionBranch, br.Name, short(br.SHA), s.cfg.ProductionBranch, s.cfg.ProductionBranch)
	}
	r.step(ctx, StepChecked, fmt.Sprintf("%s is in %s", key, s.cfg.ProductionBranch))
	return nil
}

// approved waits for the env's approvals of deploying sha, when it needs
// any.
func (r *run) approved(ctx context.Context, sha string) error {
	if r.env.Approvals.Required == 0 {
		r.step(ctx, StepApproval, "not required: approvals are not configured")
		return nil
	}
	if err := r.awaitApproval(ctx, sha); err != nil {
		return fmt.Errorf("approval of %s at %s: %w", r.rec.ID, short(sha), err)
	}
	return nil
}
