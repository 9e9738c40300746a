package workflow

import (
	"context"
	"fmt"
	"slices"
)

// Git is the truth for who is in an env: the bot's release merges on the
// env branch (see ParseReleaseMerge) whose ticket is not in the production
// branch. The Store's occupants are a cache of it, with what git does not
// record (the ticket's branch name); the functions here read the truth and
// mend the cache.

// OccupantsInGit lists the tickets released into tip (an env branch's
// commit) and not yet in master, oldest first, from the bot's merges in
// master..tip: a ticket released several times is there once, as of its
// newest merge; a ticket whose released tip is in master has graduated and
// is left out. Branch is empty (git does not record it).
func (s *Service) OccupantsInGit(ctx context.Context, master, tip string) ([]Occupant, error) {
	occ, _, err := s.gitOccupants(ctx, master, tip)
	return occ, err
}

// gitOccupants is OccupantsInGit that also returns the graduated tickets.
func (s *Service) gitOccupants(ctx context.Context, master, tip string) (occupants, graduated []Occupant, err error) {
	if tip == "" {
		return nil, nil, nil
	}
	commits, err := s.repo.Log(ctx, master, tip)
	if err != nil {
		return nil, nil, fmt.Errorf("log %s..%s: %w", short(master), short(tip), err)
	}
	seen := map[TicketKey]bool{}
	for _, c := range commits { // newest first
		m, ok := ParseReleaseMerge(c)
		if !ok || seen[m.Ticket] {
			continue
		}
		seen[m.Ticket] = true
		o := Occupant{Ticket: m.Ticket, TicketSHA: c.Parents[1], MergeSHA: c.SHA, By: m.By, At: c.When, ReleaseID: m.ReleaseID}
		in, err := s.repo.IsAncestor(ctx, o.TicketSHA, master)
		if err != nil {
			return nil, nil, fmt.Errorf("check whether %s is in %s: %w", o.Ticket, s.cfg.ProductionBranch, err)
		}
		if in {
			graduated = append(graduated, o)
			continue
		}
		occupants = append(occupants, o)
	}
	slices.Reverse(occupants)
	slices.Reverse(graduated)
	return occupants, graduated, nil
}

// reconcileOccupants returns the occupants git records at tip, each
// completed from the store's entry of the same ticket and released tip
// (branch name, time, release ID), and the store's occupants that graduated: those
// git shows in master now. Store entries git does not show are dropped:
// they are not on the branch.
func (s *Service) reconcileOccupants(ctx context.Context, master, tip string, stored []Occupant) (occupants, graduated []Occupant, err error) {
	occupants, left, err := s.gitOccupants(ctx, master, tip)
	if err != nil {
		return nil, nil, err
	}
	find := func(k TicketKey) (Occupant, bool) {
		i := slices.IndexFunc(stored, func(o Occupant) bool { return o.Ticket == k })
		if i < 0 {
			return Occupant{}, false
		}
		return stored[i], true
	}
	for i, o := range occupants {
		if st, ok := find(o.Ticket); ok {
			o.Branch = st.Branch
			if st.TicketSHA == o.TicketSHA && !st.At.IsZero() {
				o.At = st.At
			}
			if st.TicketSHA == o.TicketSHA && st.ReleaseID != "" {
				// The release that brought this tip in, not the remove
				// that merged it again: its Keeps are counted under it.
				o.ReleaseID = st.ReleaseID
			}
			occupants[i] = o
		}
	}
	for _, g := range left {
		if st, ok := find(g.Ticket); ok {
			graduated = append(graduated, st)
		}
	}
	return occupants, graduated, nil
}

// sameOccupants reports whether a and b name the same tickets at the same
// commits in the same order.
func sameOccupants(a, b []Occupant) bool {
	return slices.EqualFunc(a, b, func(x, y Occupant) bool {
		return x.Ticket == y.Ticket && x.TicketSHA == y.TicketSHA && x.MergeSHA == y.MergeSHA && x.By == y.By
	})
}
