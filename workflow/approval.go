package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// ActionApprovalLapsed is the audit action of a request that lapsed: the
// bot stopped while it waited and kept no shared state.
const ActionApprovalLapsed = "approval.lapsed"

// maxApprovalID bounds an approval ID coming back from a button.
const maxApprovalID = 128

// Approve records by's approval of request id (the value of the Approve
// button). It refuses, changing nothing, an unknown or malformed id, a
// request that ended (approved, rejected, voided, expired), a person who
// is not an approver, the requester (unless the env allows self-approval)
// and a second vote of the same person. The release waiting for the
// approval deploys once enough approvers approved.
func (s *Service) Approve(ctx context.Context, id string, by User) (ApprovalRequest, error) {
	return s.vote(ctx, id, by, true)
}

// Reject records by's rejection of request id; one rejection by an
// approver ends the request and its release. It refuses what Approve
// refuses.
func (s *Service) Reject(ctx context.Context, id string, by User) (ApprovalRequest, error) {
	return s.vote(ctx, id, by, false)
}

func (s *Service) vote(ctx context.Context, id string, by User, approve bool) (ApprovalRequest, error) {
	const op = "approval.vote"
	if id == "" || len(id) > maxApprovalID || strings.IndexFunc(id, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.' || r == '_')
	}) >= 0 {
		return ApprovalRequest{}, Errorf(op, Invalid, "that is not an approval request")
	}
	if by.ID == "" {
		return ApprovalRequest{}, Errorf(op, Invalid, "who is voting? a user is required")
	}
	a, err := s.store.GetApproval(ctx, id)
	if KindOf(err) == NotFound {
		return ApprovalRequest{}, Errorf(op, NotFound, "there is no approval request %s; nothing was recorded", printable(id))
	}
	if err != nil {
		return ApprovalRequest{}, fmt.Errorf("read approval %s: %w", id, err)
	}
	env, err := s.Env(a.Env)
	if err != nil {
		return ApprovalRequest{}, err
	}
	pol := env.Approvals
	if a.State != ApprovalPending {
		return a, Errorf(op, Invalid, "the request to deploy %s to %s is %s (%s); your vote was not recorded", short(a.SHA), a.Env, a.State, a.Reason)
	}
	now := s.clock.Now()
	if !now.Before(a.Expires) {
		a, _, _ = s.closeApproval(ctx, a, ApprovalExpired, fmt.Sprintf("it expired at %s with %d of %d approvals", a.Expires.UTC().Format("Jan 2 15:04 MST"), a.Approvals(), a.Required))
		return a, Errorf(op, Invalid, "the request to deploy %s to %s expired at %s; ask for the release again", short(a.SHA), a.Env, a.Expires.UTC().Format("Jan 2 15:04 MST"))
	}
	if !pol.MayApprove(by) {
		return a, Errorf(op, Forbidden, "sorry, only %s's approvers may vote on its releases, and you are not one of them; your vote was not recorded", a.Env)
	}
	if by.ID == a.By && !pol.AllowSelf {
		return a, Errorf(op, Forbidden, "you asked for this release, so someone else has to approve it; your vote was not recorded")
	}
	a, recorded, err := s.store.AddVote(ctx, id, Vote{User: by.ID, Approve: approve, At: now})
	if err != nil {
		return ApprovalRequest{}, fmt.Errorf("record vote on %s: %w", id, err)
	}
	if !recorded {
		if a.State != ApprovalPending {
			return a, Errorf(op, Invalid, "the request to deploy %s to %s is %s (%s); your vote was not recorded", short(a.SHA), a.Env, a.State, a.Reason)
		}
		return a, Errorf(op, Invalid, "you voted on this request already; one vote per person")
	}
	word := "approved"
	if !approve {
		word = "rejected"
	}
	s.auditEnv(ctx, Event{Env: a.Env, Action: ActionApprovalVote, Actor: by.ID, Ticket: a.Ticket, ReleaseID: a.ReleaseID, SHA: a.SHA,
		Detail: fmt.Sprintf("%s request %s (%d of %d approvals)%s", word, a.ID, a.Approvals(), a.Required, by.via())})
	s.told("approval vote", s.notify.ApprovalChanged(ctx, a))
	return a, nil
}

// closeApproval ends a, audits and reports it when this call ended it.
// The audit's actor is who ended it: the rejecting person, else the bot.
func (s *Service) closeApproval(ctx context.Context, a ApprovalRequest, state ApprovalState, reason string) (ApprovalRequest, bool, error) {
	out, closed, err := s.store.CloseApproval(ctx, a.ID, state, reason, s.clock.Now())
	if err != nil {
		return a, false, fmt.Errorf("close approval %s: %w", a.ID, err)
	}
	if closed {
		action := map[ApprovalState]string{
			ApprovalApproved: ActionApprovalApproved, ApprovalRejected: ActionApprovalRejected,
			ApprovalVoided: ActionApprovalVoided, ApprovalExpired: ActionApprovalExpired, ApprovalLapsed: ActionApprovalLapsed,
		}[state]
		actor := releasedByValue
		if v, ok := out.Rejection(); ok && state == ApprovalRejected {
			actor = v.User
		}
		s.auditEnv(ctx, Event{Env: out.Env, Action: action, Actor: actor, Ticket: out.Ticket, ReleaseID: out.ReleaseID, SHA: out.SHA, Detail: reason})
		s.told("approval closed", s.notify.ApprovalChanged(ctx, out))
	}
	return out, closed, nil
}

// approvalID names the request of release id for sha and the preview's
// digest: a resumed release asks for the same request again.
func approvalID(release, sha, digest string) string {
	return release + "-" + short(sha) + "-" + digest[:8]
}

// awaitApproval asks the env's approvers to approve deploying sha (the
// production branch's tip) and waits, holding the env's lease, until the
// request is approved (nil), rejected (Forbidden), expired or voided
// (Busy: the production branch moved or the preview changed). A release
// resumed by another worker finds its request again.
func (r *run) awaitApproval(ctx context.Context, sha string) error {
	s := r.s
	pol := r.env.Approvals
	p, err := r.preview(ctx, sha)
	if err != nil {
		return err
	}
	r.noteOverride(p.Soak)
	now := s.clock.Now()
	a := ApprovalRequest{
		ID: approvalID(r.rec.ID, sha, p.Digest), ReleaseID: r.rec.ID, Env: r.env.Name, Ticket: r.rec.Ticket, By: r.rec.By,
		SHA: sha, Digest: p.Digest, Required: pol.Required, Approvers: pol.Approvers, State: ApprovalPending,
		Created: now, Expires: now.Add(pol.expireAfter()),
	}
	switch err := s.store.CreateApproval(ctx, a); {
	case err == nil:
		r.step(ctx, StepApproval, fmt.Sprintf("asked %s for %s, request %s, expires %s", joinComma(pol.Approvers), count(pol.Required, "approval"), a.ID, a.Expires.UTC().Format(time.DateTime)))
		r.audit(ctx, Event{Action: ActionApprovalRequested, SHA: sha, Detail: fmt.Sprintf("request %s: %s, tickets %s", a.ID, count(len(p.Commits)+p.More, "commit"), joinKeys(p.Tickets))})
		s.told("approval requested", s.notify.ApprovalRequested(ctx, a, p))
	case KindOf(err) == Invalid:
		// Resumed: the request exists.
		if a, err = s.store.GetApproval(ctx, a.ID); err != nil {
			return fmt.Errorf("read approval %s: %w", a.ID, err)
		}
		r.step(ctx, StepApproval, "waiting again for request "+a.ID)
	default:
		return fmt.Errorf("store approval request: %w", err)
	}

	recheck := 10 * s.cfg.PollInterval
	lastCheck := time.Now() // wall time: checks pace the remote, whatever the clock says
	// Waiting for votes is no work to drain: a stopping worker ends it
	// at once (handed off, or lapsed without shared state).
	waitingForPerson(ctx, true)
	defer waitingForPerson(ctx, false)
	err = r.awaitVotes(ctx, &a, recheck, lastCheck)
	if err != nil && errors.Is(context.Cause(ctx), ErrLapsed) {
		return r.approvalLapsed(ctx, a)
	}
	return err
}

// awaitVotes polls request *a until it is decided (see awaitApproval).
func (r *run) awaitVotes(ctx context.Context, ap *ApprovalRequest, recheck time.Duration, lastCheck time.Time) (err error) {
	const op = "approval"
	s := r.s
	pol := r.env.Approvals
	a := *ap
	defer func() { *ap = a }()
	for {
		got, err := s.store.GetApproval(ctx, a.ID)
		if err != nil {
			return fmt.Errorf("read approval %s: %w", a.ID, err)
		}
		a = got
		now := s.clock.Now()
		switch {
		case a.State == ApprovalApproved:
			return nil
		case a.State != ApprovalPending:
			return r.approvalEnded(ctx, a)
		}
		if v, ok := a.Rejection(); ok {
			a, _, err = s.closeApproval(ctx, a, ApprovalRejected, "rejected by "+v.User)
			if err != nil {
				return err
			}
			return r.approvalEnded(ctx, a)
		}
		if !now.Before(a.Expires) {
			a, _, err = s.closeApproval(ctx, a, ApprovalExpired, fmt.Sprintf("it expired after %s with %d of %d approvals", pol.expireAfter(), a.Approvals(), a.Required))
			if err != nil {
				return err
			}
			return r.approvalEnded(ctx, a)
		}
		enough := a.Approvals() >= a.Required
		if enough || time.Since(lastCheck) >= recheck {
			lastCheck = time.Now()
			why, err := r.stillValid(ctx, a, enough)
			if err != nil {
				return err
			}
			if why != "" {
				a, _, err = s.closeApproval(ctx, a, ApprovalVoided, why)
				if err != nil {
					return err
				}
				return r.approvalEnded(ctx, a)
			}
		}
		if enough {
			a, closed, err := s.closeApproval(ctx, a, ApprovalApproved, fmt.Sprintf("approved by %s", joinComma(approvers(a))))
			if err != nil {
				return err
			}
			if !closed && a.State != ApprovalApproved {
				return r.approvalEnded(ctx, a)
			}
			r.step(ctx, StepApproval, fmt.Sprintf("approved by %s", joinComma(approvers(a))))
			return nil
		}
		t := time.NewTimer(s.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return Wrap(op, Unavailable, "stopped waiting for the approval", context.Cause(ctx))
		case <-t.C:
		}
	}
}

// stillValid checks that the production branch is still at a.SHA and,
// when full, that the preview is still the one approved. It returns why
// the request is void, "" when it holds.
func (r *run) stillValid(ctx context.Context, a ApprovalRequest, full bool) (string, error) {
	s := r.s
	if err := s.repo.Fetch(ctx); err != nil {
		return "", fmt.Errorf("fetch: %w", err)
	}
	if of, _, ok := r.rollbackOf(); ok {
		// A rollback deploys an earlier commit, not master's tip: it holds
		// while prod still runs what it undoes.
		if why, err := r.stillToRollBack(ctx, of); err != nil || why != "" {
			return why, err
		}
	} else {
		tip, err := r.productionTip(ctx)
		if err != nil {
			return "", err
		}
		if tip != a.SHA {
			return fmt.Sprintf("%s moved from %s to %s after the request: approvals bind to the exact commit", s.cfg.ProductionBranch, short(a.SHA), short(tip)), nil
		}
	}
	if !full {
		return "", nil
	}
	p, err := r.preview(ctx, a.SHA)
	if err != nil {
		return "", err
	}
	if p.Digest != a.Digest {
		return "the preview changed after the request (the last prod deploy or the deploy plan is not what the approvers saw)", nil
	}
	return r.soakLost(p.Soak), nil
}

// approvalEnded journals and returns the error of a request that ended
// without approval.
func (r *run) approvalEnded(ctx context.Context, a ApprovalRequest) error {
	const op = "approval"
	r.step(ctx, StepApproval, fmt.Sprintf("%s: %s", a.State, a.Reason))
	switch a.State {
	case ApprovalRejected:
		return Errorf(op, Forbidden, "the deploy of %s to %s was rejected: %s", short(a.SHA), a.Env, a.Reason)
	case ApprovalExpired:
		return Errorf(op, Busy, "the approval request of %s expired: %s; ask for the release again", short(a.SHA), a.Reason)
	case ApprovalVoided:
		return Errorf(op, Busy, "the approval request of %s is void: %s; ask for the release again to approve what prod would get now", short(a.SHA), a.Reason)
	}
	return Errorf(op, Internal, "approval request %s is %s", a.ID, a.State)
}

// approvalLapsed closes request a as lapsed (the worker stopped and no
// replica can resume the wait) and returns the release's error.
func (r *run) approvalLapsed(ctx context.Context, a ApprovalRequest) error {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	reason := "the bot stopped while it waited for the votes, and without shared state no other replica can count them"
	if _, _, err := r.s.closeApproval(bg, a, ApprovalLapsed, reason); err != nil {
		r.log.Error("close a lapsed approval request", slog.String("request", a.ID), slog.Any("err", err))
	}
	r.step(bg, StepApproval, "lapsed: "+reason)
	return Errorf("approval", Unavailable, "the approval request of %s lapsed: %s; ask for the release of %s to %s again", short(a.SHA), reason, a.Ticket, a.Env)
}

func approvers(a ApprovalRequest) []string {
	var out []string
	for _, v := range a.Votes {
		if v.Approve {
			out = append(out, v.User)
		}
	}
	return out
}

func joinKeys(keys []TicketKey) string {
	if len(keys) == 0 {
		return "none"
	}
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = string(k)
	}
	return joinComma(s)
}
