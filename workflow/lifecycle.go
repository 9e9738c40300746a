package workflow

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
)

// The actions an env's allow lists govern.
const (
	ActRelease = "release"
	ActReset   = "reset"
	ActRemove  = "remove"
	ActHold    = "hold"
)

var envActions = []string{ActRelease, ActReset, ActRemove, ActHold}

// More audit actions: the env lifecycle and prod approvals.
const (
	ActionReset             = "env.reset"
	ActionRemoved           = "occupant.removed"
	ActionHeld              = "env.held"
	ActionUnheld            = "env.unheld"
	ActionCancelled         = "release.cancelled"
	ActionApprovalRequested = "approval.requested"
	ActionApprovalVote      = "approval.vote"
	ActionApprovalApproved  = "approval.approved"
	ActionApprovalRejected  = "approval.rejected"
	ActionApprovalVoided    = "approval.voided"
	ActionApprovalExpired   = "approval.expired"
)

// StateCancelled is the final state of a release that left its queue
// because someone cancelled it.
const StateCancelled ReleaseState = "cancelled"

// May reports whether u may do act (ActRelease, ActReset, ActRemove,
// ActHold) on e: e.AllowedFor[act] when set, else e.Allowed; an empty
// list allows everyone.
func (e Env) May(act string, u User) bool {
	list, ok := e.AllowedFor[act]
	if !ok {
		list = e.Allowed
	}
	return allowedBy(list, u)
}

func allowedBy(list []string, u User) bool {
	if len(list) == 0 {
		return true
	}
	for _, a := range list {
		if a == u.ID || slices.Contains(u.Groups, a) {
			return true
		}
	}
	return false
}

func cloneAllowed(m map[string][]string) map[string][]string {
	if m == nil {
		return nil
	}
	out := maps.Clone(m)
	for k, v := range out {
		out[k] = slices.Clone(v)
	}
	return out
}

// ApprovalPolicy is who must approve a release to an env (prod).
type ApprovalPolicy struct {
	Required    int           // approvals needed; 0: no approval
	Approvers   []string      // user and user-group IDs allowed to vote
	AllowSelf   bool          // the requester may approve their own release
	ExpireAfter time.Duration // default 4h
}

func (p ApprovalPolicy) validate() error {
	const op = "config.approvals"
	switch {
	case p.Required < 0:
		return Errorf(op, Invalid, "required must not be negative")
	case p.Required > 0 && len(p.Approvers) == 0:
		return Errorf(op, Invalid, "approvers are required when approvals are (user or user-group IDs)")
	case p.ExpireAfter < 0:
		return Errorf(op, Invalid, "expire_after must not be negative")
	}
	return nil
}

// expireAfter is the policy's expiry, with its default.
func (p ApprovalPolicy) expireAfter() time.Duration {
	if p.ExpireAfter <= 0 {
		return 4 * time.Hour
	}
	return p.ExpireAfter
}

// MayApprove reports whether u is one of the policy's approvers.
func (p ApprovalPolicy) MayApprove(u User) bool {
	return len(p.Approvers) > 0 && allowedBy(p.Approvers, u)
}

// EnvChange is a reset, remove, rollback, hold, unhold or cancel.
type EnvChange struct {
	Action  string // ActionReset, ActionRemoved, ActionHeld, ActionUnheld, ActionCancelled
	Env     Env
	By      User
	Ticket  TicketKey    // remove, cancel
	SHA     string       // the env branch after a reset or remove
	Left    []Occupant   // occupants that left the env
	Stayed  []Occupant   // occupants still in it
	Hold    *Hold        // hold
	Deploy  DeployResult // the redeploy after a reset or remove
	Reason  string       // why a ticket was removed (expiry, a reason given); "" when asked plainly
	AskedBy string       // who asked the owner to remove it (a handoff); "" when nobody
	Undone  string       // a rollback: the release it undid
	To      string       // a rollback: the earlier commit whose tree the env branch has again (deployed again, in production)
	Release string       // a production rollback: the release (queued job) that deploys To once approved
}

// auditEnv appends e to the trail, stamped now.
func (s *Service) auditEnv(ctx context.Context, e Event) {
	e.At = s.clock.Now()
	if err := s.store.AppendEvent(ctx, e); err != nil {
		s.log.Error("audit", slog.String("action", e.Action), slog.Any("err", err))
	}
}

// Authorize reports, without I/O, whether by may do act (ActReset,
// ActRemove, ActHold, ActRelease) on env: nil, or the error the act would
// give (NotFound for an unknown env, Forbidden when not allowed). Callers
// check before they claim a request.
func (s *Service) Authorize(env, act string, by User) error {
	_, err := s.lifecycleEnv("authorize", env, act, by)
	return err
}

// lifecycleEnv checks a lifecycle request on env without I/O: the env
// exists, the user is named and allowed to do act.
func (s *Service) lifecycleEnv(op, env, act string, by User) (Env, error) {
	e, err := s.Env(env)
	if err != nil {
		return Env{}, err
	}
	if by.ID == "" {
		return Env{}, Errorf(op, Invalid, "who is asking? a user is required")
	}
	if !e.May(act, by) {
		return Env{}, Errorf(op, Forbidden, "%s may not %s %s", by, act, e.Name)
	}
	return e, nil
}

// takeEnv takes env's lease for a lifecycle operation, without queueing:
// when a release works on the env, it says so and changes nothing.
func (s *Service) takeEnv(ctx context.Context, op string, env Env, by User, what string) (Lease, error) {
	want := Lease{Token: what + "/" + nonce(), ReleaseID: what, By: by.ID}
	l, ok, err := s.store.AcquireLease(ctx, env.Name, want, s.cfg.LeaseTTL)
	if err != nil {
		return Lease{}, fmt.Errorf("take %s's lease: %w", env.Name, err)
	}
	if !ok {
		who := "another operation"
		if l.Ticket != "" {
			who = fmt.Sprintf("the release of %s by %s", l.Ticket, l.By)
		}
		return Lease{}, Errorf(op, Busy, "%s is busy with %s; try again when it is done", env.Name, who)
	}
	return l, nil
}

// redeploy deploys sha to env under lease l (after a reset or remove, or
// for the deploy command) and records it as the env's last deploy, its
// audit event's detail starting with note. A deploy that cannot run is
// returned as an error; one that ran and failed is in the result. p may
// be nil.
func (s *Service) redeploy(ctx context.Context, l Lease, env Env, sha, by, what string, p Progress, note string) (DeployResult, error) {
	if p == nil {
		p = func(Step) {}
	}
	res, err := s.deployer.Deploy(WithReleaseID(ctx, what), env, sha, p)
	if err != nil {
		return res, fmt.Errorf("deploy %s to %s: %w", short(sha), env.Name, err)
	}
	if res.SHA == "" {
		res.SHA = sha
	}
	d := Deployment{Env: env.Name, ReleaseID: what, By: by, At: s.clock.Now(), Result: res}
	if err := s.store.SetLastDeploy(ctx, l, d); err != nil {
		return res, fmt.Errorf("record %s's deploy: %w", env.Name, err)
	}
	s.auditEnv(ctx, Event{Env: env.Name, Action: ActionDeployed, Actor: by, ReleaseID: what, SHA: sha, Status: res.Status, Detail: note + string(res.Status) + ": " + res.Summary})
	return res, nil
}

// cleanText makes free text from a person safe to store and show: one
// line, at most n bytes, no control characters and no Slack markup or
// broadcast mentions.
func cleanText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f:
			return ' '
		case r == '<' || r == '>':
			return -1
		}
		return r
	}, s)
	for _, m := range []string{"@channel", "@here", "@everyone"} {
		s = replaceFold(s, m, "(at)"+m[1:])
	}
	return oneLine(s, n)
}

// replaceFold replaces old in s without regard to ASCII case.
func replaceFold(s, old, new string) string {
	low := strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s) // same length as s, unlike strings.ToLower
	var b strings.Builder
	for {
		i := strings.Index(low, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i] + new)
		s, low = s[i+len(old):], low[i+len(old):]
	}
}
