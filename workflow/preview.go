package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// DeployPlan is what deploying a commit would change. A Planner gives
// Stacks and Changes in a stable order (by stack name, then logical ID) so
// that the same commit and the same AWS state give the same digest.
type DeployPlan struct {
	Summary string
	Stacks  []PlannedStack
	Changes []PlannedChange
}

// What a deploy would do to a stack (PlannedStack.Action).
const (
	PlanCreate   = "create"
	PlanUpdate   = "update"
	PlanNoChange = "no-change"
	PlanRefused  = "refused" // the stack's state forbids a deploy (Reason says why)
	PlanFailed   = "failed"  // its change set could not be made (Reason says why)
	PlanSkipped  = "skipped" // a stack it depends on could not be planned
)

// PlannedStack is what a deploy would do to one stack.
type PlannedStack struct {
	Name    string
	Action  string // PlanCreate, PlanUpdate, PlanNoChange, ...
	Reason  string // for no-change, refused, failed and skipped
	Changes int    // resource changes
}

// PlannedChange is one resource a deploy would change.
type PlannedChange struct {
	Stack       string
	Resource    string // logical ID
	Type        string // e.g. AWS::EC2::Instance
	Action      string // Add, Modify, Remove, Import, Dynamic
	Replacement bool   // the resource would be replaced (destroyed and re-created)
	// Conditional: CloudFormation may replace the resource, depending on a
	// value it knows only while deploying (Replacement: Conditional).
	Conditional bool
}

// Preview is what approvers are shown before a prod deploy: the exact
// commit, what came into the production branch since the last prod deploy
// and, when the Deployer can plan, the changes. Digest binds an approval
// to it: any change of these gives another digest.
type Preview struct {
	Env     string
	SHA     string      // the production branch's tip to deploy
	Base    string      // the last prod deploy's SHA, "" for the first deploy
	Commits []Commit    // Base..SHA, newest first, at most maxPreviewCommits
	More    int         // commits left out
	Tickets []TicketKey // ticket keys named by those commits, in order of appearance
	Plan    *DeployPlan // nil when the Deployer cannot plan
	PlanErr string      // why the plan could not be made ("" when fine)
	Digest  string
	// Soak is each ticket's time in the env's RequiresEnv when the env
	// has a soak (Env.Soak), else nil. Digest leaves it out: it grows
	// while the approvers look.
	Soak *SoakReport
	// RollbackOf is the release a production rollback undoes ("" for a
	// release): SHA is then an earlier deploy, and Leaving lists what
	// leaves the env (SHA..Base, newest first, at most maxPreviewCommits;
	// LeavingMore left out) with the tickets it names.
	RollbackOf     string
	Leaving        []Commit
	LeavingMore    int
	LeavingTickets []TicketKey
}

// Replacements returns the planned changes that replace resources or may
// (Conditional).
func (p Preview) Replacements() []PlannedChange {
	if p.Plan == nil {
		return nil
	}
	var out []PlannedChange
	for _, c := range p.Plan.Changes {
		if c.Replacement || c.Conditional {
			out = append(out, c)
		}
	}
	return out
}

const maxPreviewCommits = 50

var ticketWord = regexp.MustCompile(`\b[A-Z][A-Z0-9_]*-[1-9][0-9]*\b`)

// preview builds env's preview of sha.
func (s *Service) preview(ctx context.Context, env Env, sha string) (Preview, error) {
	p := Preview{Env: env.Name, SHA: sha}
	var commits []Commit
	var err error
	if p.Base, commits, p.Tickets, err = s.incoming(ctx, env, sha); err != nil {
		return p, err
	}
	if env.Soak > 0 {
		rep, err := s.soak(ctx, env, p.Tickets, commits)
		if err != nil {
			return p, err
		}
		p.Soak = &rep
	}
	p.Commits, p.More = capCommits(commits)
	if pl, ok := s.deployer.(Planner); ok {
		plan, err := pl.Plan(ctx, env, sha)
		switch {
		case errors.Is(err, ErrNoPlan):
		case err != nil:
			// Approvers see that the plan is missing; the digest covers it.
			p.PlanErr = oneLine(UserMessage(err), 200)
			if p.PlanErr == "" {
				p.PlanErr = "the deploy plan could not be made"
			}
		default:
			p.Plan = &plan
		}
	}
	p.Digest = p.digest()
	return p, nil
}

// incoming lists what sha brings to env since its last deploy: that
// deploy's SHA ("" for the first), the commits base..sha (newest first)
// and the ticket keys they name, in order of appearance.
func (s *Service) incoming(ctx context.Context, env Env, sha string) (base string, commits []Commit, tickets []TicketKey, err error) {
	last, ok, err := s.store.LastDeploy(ctx, env.Name)
	if err != nil {
		return "", nil, nil, fmt.Errorf("read %s's last deploy: %w", env.Name, err)
	}
	if ok {
		base = last.Result.SHA
	}
	commits, err = s.repo.Log(ctx, base, sha)
	if err != nil {
		return "", nil, nil, fmt.Errorf("log %s..%s: %w", short(base), short(sha), err)
	}
	return base, commits, ticketsNamed(commits), nil
}

// ticketsNamed lists the ticket keys commits (newest first) name, in order
// of appearance.
func ticketsNamed(commits []Commit) []TicketKey {
	var tickets []TicketKey
	seen := map[TicketKey]bool{}
	for i := len(commits) - 1; i >= 0; i-- {
		for _, key := range namedTickets(commits[i]) {
			if !seen[key] {
				seen[key] = true
				tickets = append(tickets, key)
			}
		}
	}
	return tickets
}

// capCommits keeps the first maxPreviewCommits of commits and says how
// many it left out.
func capCommits(commits []Commit) ([]Commit, int) {
	if len(commits) > maxPreviewCommits {
		return commits[:maxPreviewCommits], len(commits) - maxPreviewCommits
	}
	return commits, 0
}

// namedTickets returns the valid ticket keys c names, none for the bot's
// own release merges.
func namedTickets(c Commit) []TicketKey {
	if IsReleaseMerge(c.Message) {
		return nil
	}
	var out []TicketKey
	for _, k := range ticketWord.FindAllString(c.Subject+"\n"+c.Message, -1) {
		if key := TicketKey(k); key.Valid() {
			out = append(out, key)
		}
	}
	return out
}

// digest hashes what the preview shows.
func (p Preview) digest() string {
	h := sha256.New()
	fmt.Fprintf(h, "env %s\nsha %s\nbase %s\nmore %d\n", p.Env, p.SHA, p.Base, p.More)
	for _, c := range p.Commits {
		fmt.Fprintf(h, "commit %s\n", c.SHA)
	}
	if p.Plan != nil {
		changes := slices.Clone(p.Plan.Changes)
		slices.SortFunc(changes, func(a, b PlannedChange) int {
			return strings.Compare(a.Stack+"\x00"+a.Resource, b.Stack+"\x00"+b.Resource)
		})
		stacks := slices.Clone(p.Plan.Stacks)
		slices.SortFunc(stacks, func(a, b PlannedStack) int { return strings.Compare(a.Name, b.Name) })
		fmt.Fprintf(h, "plan %q\n", p.Plan.Summary)
		for _, st := range stacks {
			fmt.Fprintf(h, "stack %q %s %d %q\n", st.Name, st.Action, st.Changes, st.Reason)
		}
		for _, c := range changes {
			fmt.Fprintf(h, "change %s %s %s %s %t %t\n", c.Stack, c.Resource, c.Type, c.Action, c.Replacement, c.Conditional)
		}
	}
	fmt.Fprintf(h, "planerr %s\n", p.PlanErr)
	if p.RollbackOf != "" {
		fmt.Fprintf(h, "rollback of %s, %d more leaving\n", p.RollbackOf, p.LeavingMore)
		for _, c := range p.Leaving {
			fmt.Fprintf(h, "leaving %s\n", c.SHA)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
