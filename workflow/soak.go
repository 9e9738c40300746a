package workflow

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// The soak gate. A production env with RequiresEnv and Soak (requires_env:
// stg, soak: 2h) deploys the production branch's tip only when every
// ticket it brings (those its commits since the env's last deploy name)
// has been deployed and verified in the required env for at least Soak.
//
// Where that comes from: git says what each deploy of the required env
// contained, the env's audit trail says when it was deployed and whether
// the deploy (its verification included: a failed check fails the deploy)
// succeeded. A ticket's commit is its branch's tip (or, once the branch is
// gone, the commits of the production branch that name it). Its time in
// the env starts at the oldest deploy of the unbroken run of successful
// deploys that contain that commit and reaches to the env's newest deploy:
// a failed, skipped or rolled-back deploy, or one without the commit (a
// reset, a remove), ends the run, and the clock starts again at the next
// good deploy that has it. The audit trail keeps AuditKeep events per env,
// so a run older than the trail counts from the oldest deploy kept
// (shorter than the truth, never longer).
//
// Break-glass: an approver of the env may ask for the release with a
// reason (ReleaseRequest.OverrideSoak, /release T prod --override-soak
// "why"); the request journals it (StepSoakOverride), and a gate that
// would refuse lets the release go on to its approvals instead, with a
// journal step, an audit event (ActionSoakOverridden) and a word in the
// release's thread (Notifier.SoakOverridden).

// Soak steps and actions.
const (
	StepSoakOverride     = "soak override" // asked for with the release (Detail: the reason)
	StepSoak             = "soak"          // the gate's outcome (Detail: each ticket's time, or the override)
	ActionSoakOverridden = "soak.overridden"
)

// SoakReport is how long each ticket has been in the env a production env
// requires, as of At.
type SoakReport struct {
	Env     string        // the required env (stg)
	Need    time.Duration // the production env's Soak
	At      time.Time
	Tickets []TicketSoak
	// Override is the override's journal line ("" when the gate was not
	// overridden), for the approvers; OverrideBy (a user ID) asked for
	// it, giving OverrideReason.
	Override       string
	OverrideBy     string
	OverrideReason string
}

// TicketSoak is one ticket's time in the required env.
type TicketSoak struct {
	Ticket TicketKey
	// Since is when its run of good deploys began; zero when the env's
	// newest deploy does not hold it (Why says why).
	Since time.Time
	// AtLeast: the run reaches past the oldest deploy the trail keeps.
	AtLeast bool
	Why     string
}

// For returns how long t has been in the env as of now (0 when not in).
func (t TicketSoak) For(now time.Time) time.Duration {
	if t.Since.IsZero() {
		return 0
	}
	return now.Sub(t.Since)
}

// Short returns the tickets that have been in the env less than Need.
func (r SoakReport) Short() []TicketSoak {
	var out []TicketSoak
	for _, t := range r.Tickets {
		if t.For(r.At) < r.Need {
			out = append(out, t)
		}
	}
	return out
}

// Describe says how long t has been in the env, for people.
func (r SoakReport) Describe(t TicketSoak) string {
	if t.Since.IsZero() {
		return fmt.Sprintf("%s: not in %s (%s)", t.Ticket, r.Env, t.Why)
	}
	at := ""
	if t.AtLeast {
		at = "at least "
	}
	return fmt.Sprintf("%s: %s%s in %s (since %s)", t.Ticket, at, Human(t.For(r.At)), r.Env, t.Since.UTC().Format("Jan 2 15:04 MST"))
}

// Human writes d to the minute (to the second under a minute) without
// zero units, for people: 2h, 1h5m, 30m, 45s.
func Human(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	d = d.Round(time.Minute)
	h, m := d/time.Hour, (d%time.Hour)/time.Minute
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}

// validateSoak checks e's soak: only a production env with requires_env
// has one.
func (e Env) validateSoak() error {
	const op = "config.soak"
	switch {
	case e.Soak < 0:
		return Errorf(op, Invalid, "%s's soak %v is negative", e.Name, e.Soak)
	case e.Soak == 0:
		return nil
	case !e.Production:
		return Errorf(op, Invalid, "%s is not a production env: a soak applies to the production branch a production env deploys; remove it", e.Name)
	case e.RequiresEnv == "":
		return Errorf(op, Invalid, "%s has a soak but no requires_env: name the env its tickets must have lived in (requires_env: stg)", e.Name)
	}
	return nil
}

// checkSoakOverride refuses, before anything is recorded, an override the
// requester may not ask for.
func checkSoakOverride(env Env, req ReleaseRequest) error {
	const op = "release.soak"
	if strings.TrimSpace(req.OverrideSoak) == "" {
		if req.OverrideSoak != "" {
			return Errorf(op, Invalid, "an override of the soak needs a reason: --override-soak \"why\"")
		}
		return nil
	}
	if env.Soak <= 0 {
		return Errorf(op, Invalid, "%s has no soak to override; release without --override-soak", env.Name)
	}
	if len(env.Approvals.Approvers) == 0 {
		return Errorf(op, Forbidden, "%s has no approvers, so nobody may override its soak; nothing was recorded", env.Name)
	}
	if !env.Approvals.MayApprove(req.User) {
		return Errorf(op, Forbidden, "only %s's approvers may override its soak, and %s is not one of them; nothing was recorded", env.Name, req.User)
	}
	return nil
}

// soak measures how long each of tickets has been in env.RequiresEnv.
// commits are the production branch's commits the tickets were named by
// (for a ticket whose branch is gone).
func (s *Service) soak(ctx context.Context, env Env, tickets []TicketKey, commits []Commit) (SoakReport, error) {
	rep := SoakReport{Env: env.RequiresEnv, Need: env.Soak, At: s.clock.Now()}
	evs, err := s.store.Events(ctx, env.RequiresEnv, 0)
	if err != nil {
		return rep, fmt.Errorf("read %s's history: %w", env.RequiresEnv, err)
	}
	var deploys []Event // newest first
	for _, e := range evs {
		if e.Action == ActionDeployed {
			deploys = append(deploys, e)
		}
	}
	contains := map[[2]string]bool{}
	in := func(sha, deployed string) (bool, error) {
		k := [2]string{sha, deployed}
		if v, ok := contains[k]; ok {
			return v, nil
		}
		v, err := s.repo.IsAncestor(ctx, sha, deployed)
		if err != nil {
			return false, fmt.Errorf("is %s in %s: %w", short(sha), short(deployed), err)
		}
		contains[k] = v
		return v, nil
	}
	for _, key := range tickets {
		t := TicketSoak{Ticket: key}
		marks, why, err := s.ticketCommits(ctx, key, commits)
		if err != nil {
			return rep, err
		}
		t.Why = why
		if len(marks) > 0 {
			if t.Since, t.AtLeast, t.Why, err = soakRun(deploys, len(evs) >= AuditKeep, rep.At.Add(-env.Soak), marks, in); err != nil {
				return rep, err
			}
		}
		rep.Tickets = append(rep.Tickets, t)
	}
	return rep, nil
}

// soakRun walks deploys (newest first) while each succeeded and holds
// every one of marks; it returns when the run began, or why there is none.
// full says the trail was cut: a run reaching its end began earlier. The
// walk stops at the first deploy at or before enough (the run is long
// enough then): the cost stays that of the deploys within the soak, and
// the time is a lower bound (atLeast).
func soakRun(deploys []Event, full bool, enough time.Time, marks []string, in func(sha, deployed string) (bool, error)) (since time.Time, atLeast bool, why string, err error) {
	for i, d := range deploys {
		good := deployOK(d)
		holds := d.SHA != ""
		for _, m := range marks {
			if !good || !holds {
				break
			}
			if holds, err = in(m, d.SHA); err != nil {
				return time.Time{}, false, "", err
			}
		}
		if good && holds {
			since = d.At
			if !since.After(enough) && i+1 < len(deploys) {
				return since, true, "", nil
			}
			continue
		}
		if i == 0 {
			when := d.At.UTC().Format("Jan 2 15:04 MST")
			if !good {
				return time.Time{}, false, fmt.Sprintf("its last deploy, %s, %s", when, orDefault(string(d.Status), "did not succeed")), nil
			}
			return time.Time{}, false, fmt.Sprintf("its last deploy, %s at %s, does not hold it", when, short(d.SHA)), nil
		}
		return since, false, "", nil
	}
	if since.IsZero() {
		return time.Time{}, false, "no deploy of it is recorded", nil
	}
	return since, full, "", nil
}

// deployOK reports whether deploy event e succeeded (its verification
// included). Events from before Status was recorded say it in Detail,
// after an optional note ending ": ".
func deployOK(e Event) bool {
	if e.Status != "" {
		return e.Status == DeploySucceeded
	}
	ok := string(DeploySucceeded) + ": "
	return strings.HasPrefix(e.Detail, ok) || strings.Contains(e.Detail, ": "+ok)
}

// ticketCommits returns the commits that must be in a deploy for key to be
// in it: its branch's tip, or, without a branch (deleted once its pull
// request merged), the production branch's commits that name it other than
// merges (the pull request's merge is in the production branch only);
// none, with why, when neither exists.
func (s *Service) ticketCommits(ctx context.Context, key TicketKey, commits []Commit) ([]string, string, error) {
	br, err := s.repo.ResolveTicket(ctx, key)
	if err == nil {
		return []string{br.SHA}, "", nil
	}
	switch KindOf(err) {
	case NotFound:
		var out []string
		for _, c := range commits {
			if len(c.Parents) > 1 {
				continue // a pull request's merge: only the production branch has it
			}
			for _, k := range namedTickets(c) {
				if k == key {
					out = append(out, c.SHA)
					break
				}
			}
		}
		if len(out) == 0 {
			return nil, "it has no branch and no commit of its own names it", nil
		}
		return out, "", nil
	case Invalid:
		return nil, oneLine(UserMessage(err), 200), nil
	}
	return nil, "", fmt.Errorf("resolve %s's branch: %w", key, err)
}

// checkSoak is the soak gate of a production release of master: it
// journals each ticket's time in the required env and refuses (Forbidden)
// when one is short of the env's soak, unless the release was asked for
// with an override.
func (r *run) checkSoak(ctx context.Context, master string) error {
	s := r.s
	env := r.env
	if env.Soak <= 0 {
		return nil
	}
	_, commits, tickets, err := s.incoming(ctx, env, master)
	if err != nil {
		return err
	}
	rep, err := s.soak(ctx, env, tickets, commits)
	if err != nil {
		return err
	}
	short := rep.Short()
	if len(short) == 0 {
		parts := make([]string, len(rep.Tickets))
		for i, t := range rep.Tickets {
			parts[i] = rep.Describe(t)
		}
		detail := fmt.Sprintf("%s or more in %s: %s", Human(env.Soak), rep.Env, strings.Join(parts, "; "))
		if len(parts) == 0 {
			detail = "no ticket named since the last deploy: nothing to soak"
		}
		r.step(ctx, StepSoak, detail)
		return nil
	}
	var lines []string
	for _, t := range short {
		lines = append(lines, rep.Describe(t))
	}
	reason, ok := r.overrideReason()
	if ok {
		done := r.overrideNote() != ""
		rep.OverrideBy, rep.OverrideReason = r.rec.By, reason
		rep.Override = fmt.Sprintf("overridden by %s: %q; short of %s in %s: %s", r.rec.By, reason, Human(env.Soak), rep.Env, strings.Join(lines, "; "))
		r.step(ctx, StepSoak, rep.Override)
		if !done { // a resumed job does not audit or tell it twice
			r.audit(ctx, Event{Action: ActionSoakOverridden, SHA: master, Detail: rep.Override})
			r.note("soak overridden", s.notify.SoakOverridden(ctx, r.rec, rep))
		}
		return nil
	}
	msg := fmt.Sprintf("%s takes %s only once each of its tickets has been deployed and verified in %s for %s: %s.",
		env.Name, s.cfg.ProductionBranch, rep.Env, Human(env.Soak), strings.Join(lines, "; "))
	if at, ok := soakReady(short, env.Soak); ok {
		msg += fmt.Sprintf(" Try again after %s,", at.UTC().Format("Jan 2 15:04 MST"))
	} else {
		msg += fmt.Sprintf(" Release them to %s first,", rep.Env)
	}
	how := fmt.Sprintf("/release %s %s --override-soak \"why\"", r.rec.Ticket, env.Name)
	if r.user.Via == ViaTerminal {
		how = fmt.Sprintf("code-releaser release %s %s --override-soak \"why\" --as APPROVER", r.rec.Ticket, env.Name)
	}
	msg += fmt.Sprintf(" or, if it cannot wait, one of %s's approvers may override: %s", env.Name, how)
	return Errorf("release.soak", Forbidden, "%s", msg)
}

// soakReady is when every one of short will have soaked; false when one
// is not in the env at all.
func soakReady(short []TicketSoak, need time.Duration) (time.Time, bool) {
	var at time.Time
	for _, t := range short {
		if t.Since.IsZero() {
			return time.Time{}, false
		}
		if end := t.Since.Add(need); end.After(at) {
			at = end
		}
	}
	return at, true
}

// soakLost says why an approved request may not deploy because of the
// soak, measured again (the required env had a failed deploy or lost a
// ticket while the approvers looked); "" when it holds or was overridden.
func (r *run) soakLost(rep *SoakReport) string {
	if rep == nil || r.overrideNote() != "" {
		return ""
	}
	short := rep.Short()
	if len(short) == 0 {
		return ""
	}
	lines := make([]string, len(short))
	for i, t := range short {
		lines[i] = rep.Describe(t)
	}
	return fmt.Sprintf("the soak of %s in %s no longer holds: %s", Human(rep.Need), rep.Env, strings.Join(lines, "; "))
}

// overrideReason is the soak override the release was asked with.
func (r *run) overrideReason() (string, bool) {
	for _, st := range r.rec.Steps {
		if st.Name == StepSoakOverride {
			return st.Detail, true
		}
	}
	return "", false
}

// noteOverride fills rep's override from the journal when the gate was
// overridden.
func (r *run) noteOverride(rep *SoakReport) {
	if rep == nil {
		return
	}
	if rep.Override = r.overrideNote(); rep.Override != "" {
		rep.OverrideBy = r.rec.By
		rep.OverrideReason, _ = r.overrideReason()
	}
}

// overrideNote is the journal's line of an override the gate used, "" when
// none.
func (r *run) overrideNote() string {
	for _, st := range r.rec.Steps {
		if st.Name == StepSoak && strings.HasPrefix(st.Detail, "overridden by ") {
			return st.Detail
		}
	}
	return ""
}

// journalOverride journals a request's soak override once the release is
// recorded. One asked from the terminal says so: its --as is unverified,
// and the reason goes on to the gate's step, the audit event and the
// thread.
func (r *run) journalOverride(ctx context.Context, reason string) {
	if reason = cleanText(reason, 200); reason != "" {
		r.step(ctx, StepSoakOverride, reason+r.user.via())
		r.log.Info("soak override asked", slog.String("by", r.rec.By))
	}
}
