package workflow

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// DeployedStack is a stack as its last deploy left it.
type DeployedStack struct {
	Name      string
	Exists    bool
	Status    string
	Commit    string // the code-releaser:commit tag; "" when not deployed by the bot
	ReleaseID string // the code-releaser:release-id tag
	Updated   time.Time
	// Current: what the stack runs is what sha's spec deploys (template,
	// parameters, tags), even when deployed from an older commit: the
	// deploys since found it unchanged.
	Current bool
}

// StackDrift is a stack's drift detection.
type StackDrift struct {
	Name      string
	Status    string // IN_SYNC, DRIFTED, UNKNOWN, NOT_CHECKED; "" when it could not run
	Problem   string // why detection could not run (a missing stack, an error)
	Resources []ResourceDrift
}

// ResourceDrift is one resource changed outside CloudFormation.
type ResourceDrift struct {
	LogicalID, PhysicalID, Type string
	Status                      string   // MODIFIED, DELETED
	Differences                 []string // "path: expected X, actual Y"
}

// EnvDiff is what is where for an env: its branch, what each stack was
// last deployed from, and the production branch, with the tickets in each.
type EnvDiff struct {
	Env           Env
	BranchSHA     string     // the env branch's tip ("" when it does not exist)
	BranchTickets []Occupant // released into the branch, not in master
	Master        string     // the production branch's name
	MasterSHA     string
	// MasterAhead are the commits of master not in the env branch (newest
	// first, at most maxAhead), with the ticket keys their subjects name.
	MasterAhead   []Commit
	MasterTickets []TicketKey
	Stacks        []StackDiff
}

// StackDiff is one stack of an EnvDiff.
type StackDiff struct {
	DeployedStack
	AtBranch bool       // deployed from the branch's tip
	Tickets  []Occupant // released into Commit, not in master
	Missing  []TicketKey
	Extra    []TicketKey // in the stack, not in the branch any more
	Problem  string      // why its tickets are unknown
}

// maxAhead bounds the master commits an EnvDiff lists.
const maxAhead = 50

// inspector returns the deployer as an Inspector, or an error saying
// why there is none.
func (s *Service) inspector(op string, env Env) (Inspector, error) {
	in, ok := s.deployer.(Inspector)
	if !ok {
		return nil, Errorf(op, Invalid, "%s has no AWS deployer configured (environments[].aws), so there is no deployed state to read", env.Name)
	}
	return in, nil
}

// Diff compares env's branch, the commits its stacks were last deployed
// from (their code-releaser:commit tags) and the production branch.
func (s *Service) Diff(ctx context.Context, envName string) (EnvDiff, error) {
	const op = "diff"
	e, err := s.Env(envName)
	if err != nil {
		return EnvDiff{}, err
	}
	in, err := s.inspector(op, e)
	if err != nil {
		return EnvDiff{}, err
	}
	if err := s.repo.Fetch(ctx); err != nil {
		return EnvDiff{}, fmt.Errorf("fetch: %w", err)
	}
	d := EnvDiff{Env: e, Master: s.cfg.ProductionBranch}
	master, ok, err := s.repo.Tip(ctx, s.cfg.ProductionBranch)
	if err != nil || !ok {
		return d, Errorf(op, Unavailable, "cannot read %s's tip (exists: %v): %v", s.cfg.ProductionBranch, ok, err)
	}
	d.MasterSHA = master
	tip, ok, err := s.repo.Tip(ctx, e.Branch)
	if err != nil {
		return d, fmt.Errorf("read %s: %w", e.Branch, err)
	}
	if !ok {
		return d, Errorf(op, NotFound, "%s has no branch %s yet: nothing was released to it", e.Name, e.Branch)
	}
	d.BranchSHA = tip
	if d.BranchTickets, err = s.OccupantsInGit(ctx, master, tip); err != nil {
		return d, err
	}
	ahead, err := s.repo.Log(ctx, tip, master)
	if err != nil {
		return d, fmt.Errorf("log %s..%s: %w", e.Branch, s.cfg.ProductionBranch, err)
	}
	for _, c := range ahead {
		for _, k := range ticketKeysIn(c.Subject) {
			if !slices.Contains(d.MasterTickets, k) {
				d.MasterTickets = append(d.MasterTickets, k)
			}
		}
	}
	d.MasterAhead = ahead[:min(len(ahead), maxAhead)]
	stacks, err := in.Deployed(ctx, e, tip)
	if err != nil {
		return d, err
	}
	branchKeys := ticketKeys(d.BranchTickets)
	for _, st := range stacks {
		sd := StackDiff{DeployedStack: st, AtBranch: st.Commit == tip}
		switch {
		case !st.Exists || st.Commit == "":
		case sd.AtBranch || st.Current:
			sd.Tickets = d.BranchTickets
		default:
			if sd.Tickets, err = s.OccupantsInGit(ctx, master, st.Commit); err != nil {
				sd.Problem = fmt.Sprintf("its commit %s is not in the repo any more (%v)", short(st.Commit), err)
				break
			}
			keys := ticketKeys(sd.Tickets)
			for _, k := range branchKeys {
				if !slices.Contains(keys, k) {
					sd.Missing = append(sd.Missing, k)
				}
			}
			for _, k := range keys {
				if !slices.Contains(branchKeys, k) {
					sd.Extra = append(sd.Extra, k)
				}
			}
		}
		d.Stacks = append(d.Stacks, sd)
	}
	return d, nil
}

// Drift runs drift detection on env's stacks (those of its branch's spec).
func (s *Service) Drift(ctx context.Context, envName string) ([]StackDrift, error) {
	const op = "drift"
	e, err := s.Env(envName)
	if err != nil {
		return nil, err
	}
	in, err := s.inspector(op, e)
	if err != nil {
		return nil, err
	}
	if err := s.repo.Fetch(ctx); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	tip, ok, err := s.repo.Tip(ctx, e.Branch)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", e.Branch, err)
	}
	if !ok {
		return nil, Errorf(op, NotFound, "%s has no branch %s yet: nothing was released to it", e.Name, e.Branch)
	}
	return in.Drift(ctx, e, tip)
}

func ticketKeys(os []Occupant) []TicketKey {
	out := make([]TicketKey, 0, len(os))
	for _, o := range os {
		out = append(out, o.Ticket)
	}
	return out
}

var ticketInTextRE = regexp.MustCompile(`\b[A-Z][A-Z0-9]+-[0-9]+\b`)

// ticketKeysIn finds the ticket keys a commit subject names.
func ticketKeysIn(s string) []TicketKey {
	var out []TicketKey
	for _, m := range ticketInTextRE.FindAllString(s, -1) {
		if k, err := ParseTicketKey(m); err == nil && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// Text is the diff for people, plain text in columns.
func (d EnvDiff) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: what is where\n", d.Env.Name)
	w := max(len(d.Env.Branch), len(d.Master))
	for _, sd := range d.Stacks {
		w = max(w, len(sd.Name))
	}
	col := func(name, sha, rest string) {
		fmt.Fprintf(&b, "  %-*s  %-12s  %s\n", w, name, short12(sha), rest)
	}
	if d.Env.Branch != d.Master {
		col(d.Env.Branch, d.BranchSHA, "tickets: "+keyList(ticketKeys(d.BranchTickets)))
	}
	ahead := "= " + d.Env.Branch
	if d.MasterSHA != d.BranchSHA {
		ahead = fmt.Sprintf("%d commit(s) not in %s", len(d.MasterAhead), d.Env.Branch)
		if len(d.MasterAhead) == maxAhead {
			ahead = fmt.Sprintf("%d or more commits not in %s", maxAhead, d.Env.Branch)
		}
		if len(d.MasterTickets) > 0 {
			ahead += ", naming " + keyList(d.MasterTickets)
		}
	}
	col(d.Master, d.MasterSHA, ahead)
	fmt.Fprintf(&b, "stacks, as last deployed (their %s tags):\n", "code-releaser:commit")
	for _, sd := range d.Stacks {
		switch {
		case !sd.Exists:
			col(sd.Name, "", "not deployed")
			continue
		case sd.Commit == "":
			col(sd.Name, "", sd.Status+", not deployed by code-releaser (no code-releaser:commit tag)")
			continue
		}
		var rest []string
		switch {
		case sd.AtBranch:
			rest = append(rest, "= "+d.Env.Branch)
		case sd.Current:
			rest = append(rest, "up to date with "+d.Env.Branch+" (unchanged since this commit)")
		case sd.Problem != "":
			rest = append(rest, sd.Problem)
		default:
			if len(sd.Missing) > 0 {
				rest = append(rest, "lacks "+keyList(sd.Missing))
			}
			if len(sd.Extra) > 0 {
				rest = append(rest, "still has "+keyList(sd.Extra)+" (left "+d.Env.Branch+")")
			}
			if len(rest) == 0 {
				rest = append(rest, "same tickets as "+d.Env.Branch+" (older commit: unchanged since, or master moved)")
			}
		}
		rest = append(rest, sd.Status)
		if !sd.Updated.IsZero() {
			rest = append(rest, sd.Updated.UTC().Format("2006-01-02 15:04"))
		}
		if sd.ReleaseID != "" {
			rest = append(rest, "by "+sd.ReleaseID)
		}
		col(sd.Name, sd.Commit, strings.Join(rest, " · "))
	}
	return b.String()
}

// DriftText is a drift detection's report for people, plain text.
func DriftText(env string, stacks []StackDrift) string {
	var b strings.Builder
	drifted := 0
	for _, st := range stacks {
		switch {
		case st.Problem != "":
			fmt.Fprintf(&b, "  %s: not checked: %s\n", st.Name, st.Problem)
		case len(st.Resources) == 0:
			fmt.Fprintf(&b, "  %s: %s\n", st.Name, orWord(st.Status, "IN_SYNC"))
		default:
			drifted++
			fmt.Fprintf(&b, "  %s: %s, %d resource(s) changed outside CloudFormation:\n", st.Name, st.Status, len(st.Resources))
			for _, r := range st.Resources {
				fmt.Fprintf(&b, "    %s (%s, %s) %s\n", r.LogicalID, r.Type, r.PhysicalID, r.Status)
				for _, d := range r.Differences {
					fmt.Fprintf(&b, "      %s\n", d)
				}
			}
		}
	}
	head := fmt.Sprintf("%s: no drift in %d stack(s)\n", env, len(stacks))
	if drifted > 0 {
		head = fmt.Sprintf("%s: %d of %d stack(s) drifted\n", env, drifted, len(stacks))
	}
	return head + b.String()
}

func orWord(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func short12(sha string) string {
	if sha == "" {
		return "-"
	}
	return sha[:min(12, len(sha))]
}

func keyList(keys []TicketKey) string {
	if len(keys) == 0 {
		return "none"
	}
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
