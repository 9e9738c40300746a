package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// The audit actions of the occupancy lifecycle.
const (
	ActionReminded = "occupant.reminded"
	ActionExtended = "occupant.extended"
	ActionExpired  = "occupant.expired"
)

// Occupancy notices (OccupancyNotice.Kind).
const (
	NoticeExpiryFailed  = "expiry-failed"  // the automatic removal failed; nothing was pushed
	NoticeExpiryHeld    = "expiry-held"    // due, but the env is held: it stays until the hold ends
	NoticeExtendRefused = "extend-refused" // a Keep past max_extensions
)

// expiryRetry is how long a failed automatic removal waits before it is
// tried again (the owners and the channel were told at the first failure).
const expiryRetry = time.Hour

// Reminder is the DM before a ticket's expiry.
type Reminder struct {
	Env      Env
	Occupant Occupant
	Tenancy  Tenancy
	Age      time.Duration // how long it has been in the env
	ExtendBy time.Duration // what Keep adds
}

// OccupancyNotice is an occupancy event for the channel.
type OccupancyNotice struct {
	Kind     string // NoticeExpiryFailed, NoticeExpiryHeld, NoticeExtendRefused
	Env      Env
	Occupant Occupant
	Tenancy  Tenancy
	Others   []Occupant // the other occupants (their owners are told of a failed expiry)
	Hold     *Hold      // NoticeExpiryHeld
	By       User       // NoticeExtendRefused: who pressed Keep
	Error    string     // NoticeExpiryFailed: what went wrong, for people
}

// Tenancies returns the age limits of env's occupants (zero Tenancy when
// the env has no occupancy policy), read from the store.
func (s *Service) Tenancies(ctx context.Context, e Env, occ []Occupant) (map[TicketKey]Tenancy, error) {
	if !e.Occupancy.Enabled() || len(occ) == 0 {
		return nil, nil
	}
	ten, err := s.store.Tenures(ctx, e.Name)
	if err != nil {
		return nil, fmt.Errorf("read %s's tenures: %w", e.Name, err)
	}
	// In master: as the local mirror last saw it (no fetch for a board).
	master, ok, err := s.repo.Tip(ctx, s.cfg.ProductionBranch)
	if err != nil || !ok {
		master = ""
	}
	out := make(map[TicketKey]Tenancy, len(occ))
	for _, o := range occ {
		tn := e.Occupancy.tenancy(o, ten)
		if master != "" && o.TicketSHA != "" {
			if in, err := s.repo.IsAncestor(ctx, o.TicketSHA, master); err == nil && in {
				tn = Tenancy{InMaster: true}
			}
		}
		out[o.Ticket] = tn
	}
	return out, nil
}

// SweepOccupancy is one pass of the occupancy scheduler over every env
// with a policy: owners of tickets past remind_after get one reminder per
// expiry date; tickets past their expiry are removed (the remove path:
// rebuilt from the production branch and the others, pushed, redeployed,
// announced), unless the env is held or the ticket's commits are all in
// the production branch. Deadlines missed while no scheduler ran are
// handled by the next pass. Call it from one process at a time (the
// OccupancyScheduler's lease): the reminders and removals are also
// guarded by claims and the env's lease, so a second pass repeats
// nothing.
func (s *Service) SweepOccupancy(ctx context.Context) error {
	var errs []error
	for _, e := range s.envs {
		if e.Production || !e.Occupancy.Enabled() && !e.Occupancy.RemoveWhenDone {
			continue
		}
		if err := s.sweepEnv(ctx, e); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) sweepEnv(ctx context.Context, e Env) error {
	occ, err := s.store.Occupants(ctx, e.Name)
	if err != nil {
		return fmt.Errorf("read %s's occupants: %w", e.Name, err)
	}
	ten, err := s.store.Tenures(ctx, e.Name)
	if err != nil {
		return fmt.Errorf("read %s's tenures: %w", e.Name, err)
	}
	var gone []TicketKey
	for k := range ten {
		if !slices.ContainsFunc(occ, func(o Occupant) bool { return o.Ticket == k }) {
			gone = append(gone, k)
		}
	}
	if len(gone) > 0 {
		if err := s.store.DropTenures(ctx, e.Name, gone...); err != nil {
			s.log.Warn("drop tenures", slog.String("env", e.Name), slog.Any("err", err))
		}
	}
	now := s.clock.Now()
	// Whether a ticket is in master is asked of git (a fetch per env and
	// pass) only once something is about to happen to it.
	g := &graduation{s: s}
	var errs []error
	for _, o := range occ {
		tn := e.Occupancy.tenancy(o, ten)
		switch {
		case !tn.Expires.IsZero() && !now.Before(tn.Expires):
			why := fmt.Sprintf("expired: in %s for %s (expire_after %s", e.Name, FormatAge(now.Sub(o.At)), FormatAge(e.Occupancy.ExpireAfter))
			if tn.Extensions > 0 {
				why += fmt.Sprintf(", kept %d time(s)", tn.Extensions)
			}
			if err := s.expire(ctx, e, o, tn, occ, why+")", g); err != nil {
				errs = append(errs, err)
			}
		case e.Occupancy.RemoveWhenDone && s.doneInTracker(ctx, o.Ticket):
			if err := s.expire(ctx, e, o, tn, occ, "its ticket is done (remove_when_done)", g); err != nil {
				errs = append(errs, err)
			}
		case !tn.RemindAt.IsZero() && !now.Before(tn.RemindAt):
			s.remind(ctx, e, o, tn, now, g)
		}
	}
	return errors.Join(errs...)
}

// graduation answers whether occupants are in the production branch,
// fetching once.
type graduation struct {
	s       *Service
	fetched bool
	master  string
}

// in reports whether o's released commits are all in the production
// branch; when git cannot say, it says no (the ticket is treated as in
// the env).
func (g *graduation) in(ctx context.Context, o Occupant) bool {
	s := g.s
	if !g.fetched {
		g.fetched = true
		if err := s.repo.Fetch(ctx); err != nil {
			s.log.Warn("occupancy: fetch", slog.Any("err", err))
		}
		if m, ok, err := s.repo.Tip(ctx, s.cfg.ProductionBranch); err == nil && ok {
			g.master = m
		}
	}
	if g.master == "" || o.TicketSHA == "" {
		return false
	}
	in, err := s.repo.IsAncestor(ctx, o.TicketSHA, g.master)
	return err == nil && in
}

// tenancyKey names one expiry date of one release of a ticket in an env,
// for the claims that make reminders and removals happen once.
func tenancyKey(what string, e Env, o Occupant, tn Tenancy) string {
	return fmt.Sprintf("occupancy:%s:%s:%s:%s:%d", what, e.Name, o.Ticket, o.ReleaseID, tn.Extensions)
}

// remind sends o's owner one reminder per expiry date.
func (s *Service) remind(ctx context.Context, e Env, o Occupant, tn Tenancy, now time.Time, g *graduation) {
	ttl := tn.Expires.Sub(now) + 30*24*time.Hour
	first, err := s.store.Claim(ctx, tenancyKey("remind", e, o, tn), ttl)
	if err != nil || !first {
		if err != nil {
			s.log.Warn("occupancy: claim a reminder", slog.Any("err", err))
		}
		return
	}
	if g.in(ctx, o) {
		return // graduated: no reminder for this expiry date
	}
	p := e.Occupancy.withDefaults()
	r := Reminder{Env: e, Occupant: o, Tenancy: tn, Age: now.Sub(o.At), ExtendBy: p.ExtendBy}
	if s.told("remind", s.notify.Remind(ctx, r)) != nil {
		return
	}
	s.auditEnv(ctx, Event{Env: e.Name, Action: ActionReminded, Actor: releasedByValue, Ticket: o.Ticket, ReleaseID: o.ReleaseID,
		Detail: fmt.Sprintf("reminded %s: %s has been in %s for %s and leaves at %s", o.By, o.Ticket, e.Name, FormatAge(r.Age), tn.Expires.UTC().Format(time.DateTime+" UTC"))})
}

// doneInTracker reports whether key's ticket is in the done status
// category; a failed lookup says no.
func (s *Service) doneInTracker(ctx context.Context, key TicketKey) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t, err := s.tickets.Lookup(ctx, key)
	if err != nil {
		s.log.Warn("occupancy: look the ticket up", slog.String("ticket", string(key)), slog.Any("err", err))
		return false
	}
	return t.StatusCategory == "done"
}

// expire removes o from e, saying why (its expiry, its ticket done),
// unless e is held.
func (s *Service) expire(ctx context.Context, e Env, o Occupant, tn Tenancy, occ []Occupant, why string, g *graduation) error {
	log := s.log.With(slog.String("op", "expire"), slog.String("env", e.Name), slog.String("ticket", string(o.Ticket)))
	if h, held, err := s.store.Hold(ctx, e.Name); err != nil {
		return fmt.Errorf("read %s's hold: %w", e.Name, err)
	} else if held {
		if first, err := s.store.Claim(ctx, tenancyKey("held", e, o, tn), 30*24*time.Hour); err == nil && first {
			s.told("expiry held", s.notify.OccupancyNotice(ctx, OccupancyNotice{Kind: NoticeExpiryHeld, Env: e, Occupant: o, Tenancy: tn, Hold: &h}))
		}
		return nil
	}
	if _, busy, err := s.store.CurrentLease(ctx, e.Name); err != nil || busy {
		return err // a release or another change works on the env: next pass
	}
	// One attempt an hour at most, whichever replica runs the scheduler.
	if try, err := s.store.Claim(ctx, tenancyKey("attempt", e, o, tn), expiryRetry); err != nil || !try {
		return err
	}
	if g.in(ctx, o) {
		return nil // graduated: it leaves with the next release
	}
	c, err := s.removeTicket(ctx, e, o.Ticket, User{ID: releasedByValue}, removal{why: why, release: o.ReleaseID})
	if err == nil {
		log.Info("ticket expired", slog.String("sha", c.SHA))
		s.auditEnv(ctx, Event{Env: e.Name, Action: ActionExpired, Actor: releasedByValue, Ticket: o.Ticket, ReleaseID: o.ReleaseID, SHA: c.SHA,
			Detail: fmt.Sprintf("%s of %s %s", o.Ticket, o.By, why)})
		s.commentTicket(ctx, o.Ticket, fmt.Sprintf("Code-Releaser took %s out of %s: %s. %s is now %s plus %s.",
			o.Ticket, e.Name, why, e.Branch, s.cfg.ProductionBranch, orNoneKeys(occupantKeys(c.Stayed))))
		return nil
	}
	switch KindOf(err) {
	case NotFound, Busy:
		// Gone already (removed, reset) or the env is busy: the next pass
		// looks again.
		log.Info("expiry deferred", slog.Any("err", err))
		return nil
	}
	log.Error("automatic removal failed", slog.Any("err", err))
	s.auditEnv(ctx, Event{Env: e.Name, Action: ActionExpired, Actor: releasedByValue, Ticket: o.Ticket, ReleaseID: o.ReleaseID,
		Detail: fmt.Sprintf("%s of %s is past its expiry but could not be removed: %s; %s was left as it was", o.Ticket, o.By, UserMessage(err), e.Branch)})
	if first, cerr := s.store.Claim(ctx, tenancyKey("failed", e, o, tn), 30*24*time.Hour); cerr == nil && first {
		var others []Occupant
		for _, x := range occ {
			if x.Ticket != o.Ticket {
				others = append(others, x)
			}
		}
		s.told("expiry failed", s.notify.OccupancyNotice(ctx, OccupancyNotice{Kind: NoticeExpiryFailed, Env: e, Occupant: o, Tenancy: tn, Others: others, Error: UserMessage(err)}))
		s.commentTicket(ctx, o.Ticket, fmt.Sprintf("Code-Releaser could not take %s out of %s at its expiry: %s. %s was left as it was.", o.Ticket, e.Name, UserMessage(err), e.Branch))
	}
	return fmt.Errorf("expire %s from %s: %w", o.Ticket, e.Name, err)
}

func orNoneKeys(k []TicketKey) string {
	if len(k) == 0 {
		return "nothing else"
	}
	return joinKeys(k)
}

// commentTicket writes text on the ticket when a commenter is wired,
// logging a failure.
func (s *Service) commentTicket(ctx context.Context, key TicketKey, text string) {
	if s.commenter == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.commenter.Comment(ctx, key, text); err != nil {
		s.log.Warn("comment on the ticket", slog.String("ticket", string(key)), slog.Any("err", err))
	}
}

// Keep is the reminder's Keep button: it moves ticket's expiry in env by
// the policy's extend_by, at most max_extensions times per release. Only
// the ticket's owner, or someone who may remove tickets from env, may keep
// it. releaseID and seen are the release and the number of Keeps the
// reminder was about: a ticket released again since, or kept since (a
// second click on the same reminder), is not kept again.
func (s *Service) Keep(ctx context.Context, env, ticket, releaseID string, seen int, by User) (Tenancy, error) {
	const op = "keep"
	e, o, err := s.ownOccupant(ctx, op, env, ticket, releaseID, by)
	if err != nil {
		return Tenancy{}, err
	}
	p := e.Occupancy.withDefaults()
	if !p.Enabled() {
		return Tenancy{}, Errorf(op, Invalid, "tickets do not expire in %s: there is nothing to keep", e.Name)
	}
	t, ok, err := s.store.Extend(ctx, e.Name, o.Ticket, o.ReleaseID, seen, p.MaxExtensions)
	if err != nil {
		return Tenancy{}, fmt.Errorf("extend %s in %s: %w", o.Ticket, e.Name, err)
	}
	tn := p.tenancy(o, map[TicketKey]Tenure{o.Ticket: t})
	if !ok && t.Extensions != seen {
		return tn, Errorf(op, Invalid, "%s was kept since this message; it leaves %s at %s", o.Ticket, e.Name, tn.Expires.UTC().Format("Jan 2 15:04 MST"))
	}
	if !ok {
		if first, err := s.store.Claim(ctx, tenancyKey("maxed", e, o, tn), 30*24*time.Hour); err == nil && first {
			s.told("extend refused", s.notify.OccupancyNotice(ctx, OccupancyNotice{Kind: NoticeExtendRefused, Env: e, Occupant: o, Tenancy: tn, By: by}))
		}
		return tn, Errorf(op, Invalid, "%s was kept in %s %d time(s) already, the most %s allows; it leaves at %s unless it is released again",
			o.Ticket, e.Name, t.Extensions, e.Name, tn.Expires.UTC().Format("Jan 2 15:04 MST"))
	}
	s.auditEnv(ctx, Event{Env: e.Name, Action: ActionExtended, Actor: by.ID, Ticket: o.Ticket, ReleaseID: o.ReleaseID,
		Detail: fmt.Sprintf("%s kept %s in %s until %s (%d of %d)%s", by.ID, owned([]Occupant{o}, o.Ticket), e.Name, tn.Expires.UTC().Format(time.DateTime+" UTC"), tn.Extensions, tn.Max, by.via())})
	return tn, nil
}

// Leave is the reminder's Remove button: the ticket leaves env by the
// remove path. Its owner may do it even where allowed_for.remove names
// only admins; so may anyone allowed to remove tickets from env.
func (s *Service) Leave(ctx context.Context, env, ticket, releaseID string, by User) (EnvChange, error) {
	e, o, err := s.ownOccupant(ctx, "leave", env, ticket, releaseID, by)
	if err != nil {
		return EnvChange{}, err
	}
	why := ""
	if by.ID == o.By {
		why = "its owner removed it from the reminder"
	}
	return s.removeTicket(ctx, e, o.Ticket, by, removal{why: why, release: o.ReleaseID})
}

// ownOccupant finds ticket's entry in env for release releaseID and checks
// by is its owner or may remove tickets from env.
func (s *Service) ownOccupant(ctx context.Context, op, env, ticket, releaseID string, by User) (Env, Occupant, error) {
	if by.ID == "" {
		return Env{}, Occupant{}, Errorf(op, Invalid, "who is asking? a user is required")
	}
	e, o, err := s.findOccupant(ctx, op, env, ticket, releaseID)
	if err != nil {
		return Env{}, Occupant{}, err
	}
	if by.ID != o.By && !e.May(ActRemove, by) {
		return Env{}, Occupant{}, Errorf(op, Forbidden, "%s is %s's ticket, and %s may not remove tickets from %s", o.Ticket, o.By, by, e.Name)
	}
	return e, o, nil
}
