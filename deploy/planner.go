package deploy

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/code-releaser/code-releaser/workflow"
)

var _ workflow.Planner = (*Deployer)(nil)

// Plan implements workflow.Planner: what deploying sha to env would change,
// without changing it. It goes the way Deploy goes (spec, templates and
// parameters of sha, then the account guard and the exports check before
// any other AWS call), creates a change set for each stack that Deploy
// would touch (Config.All applies), describes it, and deletes it again,
// with the REVIEW_IN_PROGRESS stack a new stack's change set leaves. The
// result is sorted (stacks by name, changes by stack and logical ID), so
// the same commit and the same AWS state give the same plan.
func (d *Deployer) Plan(ctx context.Context, env workflow.Env, sha string) (workflow.DeployPlan, error) {
	const op = "deploy.plan"
	t, err := d.open(ctx, op, env, sha)
	if err != nil {
		return workflow.DeployPlan{}, err
	}
	if t.plan == nil {
		return workflow.DeployPlan{Summary: fmt.Sprintf("%s has no %s: nothing to deploy", shortSHA(sha), SpecFile)}, nil
	}
	quiet := func(string, string, ...any) {}
	runner := &stackRunner{cfn: t.cfn, templates: t.templates, poll: d.cfg.PollInterval, sha: sha, all: d.cfg.All, plan: true, progress: quiet}
	outcomes := map[string]*stackOutcome{}
	var mu sync.Mutex
	runGraph(ctx, stackTasks(ctx, t.plan, runner, &mu, outcomes, quiet), d.cfg.Parallel)
	if err := ctx.Err(); err != nil {
		return workflow.DeployPlan{}, workflow.Wrap(op, workflow.Unavailable, "the deploy plan was cancelled", err)
	}
	p := planOf(t.plan, outcomes)
	d.log.InfoContext(ctx, "planned", slog.String("env", env.Name), slog.String("sha", sha), slog.String("plan", p.Summary))
	return p, nil
}

var noExport = regexp.MustCompile(`No export named (\S+?)\.? found`)

// planOf turns the stacks' plan outcomes into a sorted workflow.DeployPlan.
func planOf(plan *Plan, outcomes map[string]*stackOutcome) workflow.DeployPlan {
	exporter := map[string]*stackOutcome{}
	exporterName := map[string]string{}
	for _, sp := range plan.Stacks {
		for _, e := range sp.Exports {
			exporter[e], exporterName[e] = outcomes[sp.ID], sp.Name
		}
	}
	var out workflow.DeployPlan
	for _, sp := range plan.Stacks {
		o := outcomes[sp.ID]
		if o == nil { // not run: runGraph always records one, but be safe
			o = &stackOutcome{result: workflow.StackResult{Name: sp.Name, Status: StatusSkipped, Reason: "not planned"}}
		}
		ps := workflow.PlannedStack{Name: sp.Name, Reason: o.result.Reason, Changes: len(o.changes)}
		switch o.result.Status {
		case StatusPlanned:
			ps.Action, ps.Reason = o.kind, ""
			if len(o.changes) == 0 { // e.g. only tags or outputs change
				ps.Reason = "no resource changes"
			}
		case StatusUnchanged, StatusNoChanges:
			ps.Action = workflow.PlanNoChange
		case StatusRefused:
			ps.Action = workflow.PlanRefused
		case StatusSkipped:
			ps.Action = workflow.PlanSkipped
		default:
			ps.Action = workflow.PlanFailed
			// A stack importing what another stack of this deploy first
			// exports cannot be planned before that one deploys.
			if m := noExport.FindStringSubmatch(o.result.Reason); m != nil && o.kind != "" {
				if up := exporter[m[1]]; up != nil && up.kind != "" && up.result.Status == StatusPlanned {
					ps.Action = o.kind
					ps.Reason = fmt.Sprintf("its changes can be listed only once %s is deployed: it imports %s, which that deploy exports", exporterName[m[1]], m[1])
				}
			}
		}
		out.Stacks = append(out.Stacks, ps)
		for _, c := range o.changes {
			out.Changes = append(out.Changes, workflow.PlannedChange{
				Stack: sp.Name, Resource: c.LogicalID, Type: c.Type, Action: c.Action,
				Replacement: c.Replacement == string(types.ReplacementTrue),
				Conditional: c.Replacement == string(types.ReplacementConditional),
			})
		}
	}
	slices.SortFunc(out.Stacks, func(a, b workflow.PlannedStack) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(out.Changes, func(a, b workflow.PlannedChange) int {
		return cmp.Or(strings.Compare(a.Stack, b.Stack), strings.Compare(a.Resource, b.Resource),
			strings.Compare(a.Action, b.Action), strings.Compare(a.Type, b.Type))
	})
	out.Summary = planSummary(out)
	return out
}

// planSummary is a plan's line for people, e.g. "3 stacks: 1 update,
// 2 no-change; 4 resource changes, 1 replacement".
func planSummary(p workflow.DeployPlan) string {
	count := map[string]int{}
	for _, s := range p.Stacks {
		count[s.Action]++
	}
	var stacks []string
	for _, a := range []string{workflow.PlanCreate, workflow.PlanUpdate, workflow.PlanNoChange, workflow.PlanRefused, workflow.PlanFailed, workflow.PlanSkipped} {
		if count[a] > 0 {
			stacks = append(stacks, fmt.Sprintf("%d %s", count[a], a))
		}
	}
	var repl, cond int
	for _, c := range p.Changes {
		if c.Replacement {
			repl++
		}
		if c.Conditional {
			cond++
		}
	}
	s := fmt.Sprintf("%s: %s; %s", plural(len(p.Stacks), "stack"), strings.Join(stacks, ", "), plural(len(p.Changes), "resource change"))
	if repl > 0 {
		s += ", " + plural(repl, "replacement")
	}
	if cond > 0 {
		s += ", " + plural(cond, "conditional replacement")
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// FormatPlan renders a plan for a terminal: the summary, a line per stack,
// then the resource changes with replacements marked.
func FormatPlan(p workflow.DeployPlan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "plan: %s\n", p.Summary)
	for _, s := range p.Stacks {
		fmt.Fprintf(&b, "  %-32s %s", s.Name, s.Action)
		if s.Changes > 0 {
			fmt.Fprintf(&b, ", %s", plural(s.Changes, "change"))
		}
		if s.Reason != "" {
			fmt.Fprintf(&b, ": %s", strings.ReplaceAll(s.Reason, "\n", "\n      "))
		}
		b.WriteString("\n")
		for _, c := range p.Changes {
			if c.Stack != s.Name {
				continue
			}
			mark := "   "
			switch {
			case c.Replacement:
				mark = "!! "
			case c.Conditional:
				mark = "?! "
			}
			fmt.Fprintf(&b, "    %s%-7s %s (%s)", mark, c.Action, c.Resource, c.Type)
			switch {
			case c.Replacement:
				b.WriteString("  REPLACEMENT")
			case c.Conditional:
				b.WriteString("  may need REPLACEMENT (Conditional)")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}
