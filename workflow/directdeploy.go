package workflow

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
)

// DeployRequest is a deploy of one commit to an env without merging
// anything (the terminal's deploy command).
type DeployRequest struct {
	Env  string
	Ref  string // what the person named (a branch or a SHA), for the record
	SHA  string // the full commit ID to deploy
	User User
}

var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// CheckDeployRef refuses to deploy sha to a production env unless sha is
// the production branch's tip: production envs run the production branch
// only, never a ticket branch or an old commit. Other envs take any
// commit.
func CheckDeployRef(e Env, production, tip, sha string) error {
	if !e.Production || sha == tip {
		return nil
	}
	return Errorf("deploy.ref", Forbidden, "%s deploys %s only, and %s is not its tip (%s): merge the change into %s first; nothing was deployed",
		e.Name, production, short(sha), short(tip), production)
}

// DeployCommit deploys req.SHA to req.Env under the env's lease, so that
// it never interleaves with a release, reset or remove, and records it as
// the env's last deploy and in the env's history, with who asked. It
// refuses, changing nothing, an env whose releases need approvals (those
// deploy only what their approvers approved: release a ticket instead), a
// production env's commit other than the production branch's tip, an env
// held by someone else and a person the env's allow list does not name.
// A deploy that could not run is recorded as failed.
func (s *Service) DeployCommit(ctx context.Context, req DeployRequest, p Progress) (DeployResult, error) {
	const op = "deploy"
	e, err := s.lifecycleEnv(op, req.Env, ActRelease, req.User)
	if err != nil {
		return DeployResult{}, err
	}
	if !fullSHA.MatchString(req.SHA) {
		return DeployResult{}, Errorf(op, Invalid, "%q is not a full commit ID", printable(truncate(req.SHA, 50)))
	}
	if e.Approvals.Required > 0 {
		return DeployResult{}, Errorf(op, Forbidden, "%s deploys only what %d of its approvers approved: ask for it with a release (code-releaser release TICKET %s --as USER, or /release TICKET %s); nothing was deployed",
			e.Name, e.Approvals.Required, e.Name, e.Name)
	}
	if h, held, err := s.store.Hold(ctx, e.Name); err != nil {
		return DeployResult{}, fmt.Errorf("read %s's hold: %w", e.Name, err)
	} else if held && h.By != req.User.ID {
		return DeployResult{}, Errorf(op, Busy, "%s is held by %s (%s); deploy once they lift the hold", e.Name, h.By, orDefault(h.Reason, "no reason given"))
	}
	ref := printable(truncate(orDefault(req.Ref, req.SHA), 100))
	id := "deploy-" + s.newID()
	l, err := s.takeEnv(ctx, op, e, req.User, id)
	if err != nil {
		return DeployResult{}, err
	}
	log := s.log.With(slog.String("op", op), slog.String("env", e.Name), slog.String("by", req.User.ID))
	defer s.releaseLease(ctx, l, log)
	var res DeployResult
	err = s.underLease(ctx, l, log, func(ctx context.Context) error {
		if e.Production {
			if err := s.repo.Fetch(ctx); err != nil {
				return fmt.Errorf("fetch: %w", err)
			}
			tip, err := s.tip(ctx, s.cfg.ProductionBranch)
			if err != nil {
				return err
			}
			if err := CheckDeployRef(e, s.cfg.ProductionBranch, tip, req.SHA); err != nil {
				return err
			}
		}
		res, err = s.redeploy(ctx, l, e, req.SHA, req.User.ID, id, p, fmt.Sprintf("deploy of %s by %s%s: ", ref, req.User.ID, req.User.via()))
		return err
	})
	if err != nil {
		if KindOf(err) != Forbidden {
			bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
			defer cancel()
			s.auditEnv(bg, Event{Env: e.Name, Action: ActionFailed, Actor: req.User.ID, ReleaseID: id, SHA: req.SHA,
				Detail: fmt.Sprintf("deploy of %s by %s%s failed: %s", ref, req.User.ID, req.User.via(), oneLine(orDefault(UserMessage(err), err.Error()), 300))})
		}
		return res, err
	}
	log.Info("deployed", slog.String("sha", req.SHA), slog.String("status", string(res.Status)))
	return res, nil
}

// orDefault is s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
