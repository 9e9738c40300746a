package workflow

import (
	"fmt"
	"time"
)

// OccupancyPolicy is how long a ticket may stay in a non-prod env before
// its owner is reminded and before it is taken out (Env.Occupancy). The
// zero policy keeps tickets for ever.
type OccupancyPolicy struct {
	// RemindAfter is the age at which the owner gets a DM with Keep and
	// Remove buttons; 0: no reminder.
	RemindAfter time.Duration
	// ExpireAfter is the age at which the ticket is removed from the env
	// (unless the env is held, or the ticket is in the production
	// branch); 0: never.
	ExpireAfter time.Duration
	// ExtendBy is how much later a Keep moves the expiry; default
	// RemindAfter, else a day.
	ExtendBy time.Duration
	// MaxExtensions bounds the Keeps of one release of a ticket; 0 takes
	// the default, 2; negative allows none. A release of the ticket
	// starts its count again.
	MaxExtensions int
	// RemoveWhenDone removes a ticket whose Jira status is in the done
	// category; without it such a ticket is only flagged.
	RemoveWhenDone bool
}

// Enabled reports whether tickets age out of the env.
func (p OccupancyPolicy) Enabled() bool { return p.ExpireAfter > 0 }

// withDefaults fills ExtendBy and MaxExtensions of an enabled policy.
func (p OccupancyPolicy) withDefaults() OccupancyPolicy {
	if !p.Enabled() {
		return p
	}
	if p.ExtendBy <= 0 {
		p.ExtendBy = p.RemindAfter
		if p.ExtendBy <= 0 {
			p.ExtendBy = 24 * time.Hour
		}
	}
	if p.MaxExtensions == 0 {
		p.MaxExtensions = 2
	}
	return p
}

// Validate checks the policy of env e; messages name the field.
func (p OccupancyPolicy) Validate(e Env) error {
	const op = "config.occupancy"
	switch {
	case p.RemindAfter < 0 || p.ExpireAfter < 0 || p.ExtendBy < 0:
		return Errorf(op, Invalid, "remind_after, expire_after and extend_by must not be negative")
	case p.RemindAfter > 0 && p.ExpireAfter == 0:
		return Errorf(op, Invalid, "remind_after needs expire_after (the reminder is about the expiry)")
	case p.ExpireAfter > 0 && p.RemindAfter >= p.ExpireAfter:
		return Errorf(op, Invalid, "remind_after (%s) must come before expire_after (%s)", FormatAge(p.RemindAfter), FormatAge(p.ExpireAfter))
	case p.ExpireAfter > 0 && p.ExpireAfter < time.Minute:
		return Errorf(op, Invalid, "expire_after %s is too short: at least 1m", p.ExpireAfter)
	case e.Production && (p.Enabled() || p.RemoveWhenDone):
		return Errorf(op, Invalid, "%s is a production env: it deploys %s, whose tickets never expire; remove its occupancy section", e.Name, "the production branch")
	}
	return nil
}

// Tenure is what the store keeps of a ticket's stay in an env that git
// does not: how many times its owner kept it. It belongs to one release
// of the ticket; a new release starts again from none.
type Tenure struct {
	Ticket     TicketKey
	ReleaseID  string
	Extensions int
}

// Tenancy is an occupant's place on the board: its age and expiry.
type Tenancy struct {
	Expires    time.Time // zero: never (no policy, or in master)
	RemindAt   time.Time // zero: no reminder
	Extensions int       // Keeps used
	Max        int       // Keeps allowed
	InMaster   bool      // its commits are all in the production branch
}

// tenancy computes o's expiry under p with the stored tenures.
func (p OccupancyPolicy) tenancy(o Occupant, tenures map[TicketKey]Tenure) Tenancy {
	p = p.withDefaults()
	if !p.Enabled() || o.At.IsZero() {
		return Tenancy{}
	}
	ext := 0
	if t, ok := tenures[o.Ticket]; ok && t.ReleaseID == o.ReleaseID {
		ext = t.Extensions
	}
	exp := o.At.Add(p.ExpireAfter + time.Duration(ext)*p.ExtendBy)
	tn := Tenancy{Expires: exp, Extensions: ext, Max: max(p.MaxExtensions, 0)}
	if p.RemindAfter > 0 {
		tn.RemindAt = exp.Add(-(p.ExpireAfter - p.RemindAfter))
	}
	return tn
}

// FormatAge says a duration in days, hours or minutes, for people: "3d",
// "5h", "3d4h", "20m".
func FormatAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "<1m"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	days, hours := int(d.Hours())/24, int(d.Hours())%24
	if hours == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, hours)
}
