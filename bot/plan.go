package bot

import (
	"fmt"
	"strings"

	"github.com/code-releaser/code-releaser/workflow"
)

// Bounds of a plan in an approval message: a section holds 3000
// characters and the commits come after the plan.
const (
	maxPlanText         = 1500 // bytes of the lines after the summary
	maxPlanLine         = 200
	maxPlanStackChanges = 6
)

// planText renders a deploy plan for the approval message: the summary,
// the replacements highlighted (certain, then conditional), then a line
// per stack with its action and changes, unchanged stacks on one line;
// cut to maxPlanText, replacements first.
func planText(p *workflow.DeployPlan) string {
	var lines, cond []string
	for _, c := range p.Changes {
		switch {
		case c.Replacement:
			lines = append(lines, fmt.Sprintf(":warning: *replaces* `%s` %s (%s)", escape(c.Stack), escape(c.Resource), escape(c.Type)))
		case c.Conditional:
			cond = append(cond, fmt.Sprintf(":warning: *may replace* `%s` %s (%s), Replacement: Conditional", escape(c.Stack), escape(c.Resource), escape(c.Type)))
		}
	}
	lines = append(lines, cond...)
	var unchanged []string
	for _, st := range p.Stacks {
		if st.Action == workflow.PlanNoChange {
			unchanged = append(unchanged, "`"+escape(st.Name)+"`")
			continue
		}
		var changes []string
		for _, c := range p.Changes {
			if c.Stack == st.Name {
				changes = append(changes, escape(c.Action+" "+c.Resource))
			}
		}
		if len(changes) > maxPlanStackChanges {
			changes = append(changes[:maxPlanStackChanges], fmt.Sprintf("+%d more", len(changes)-maxPlanStackChanges))
		}
		line := fmt.Sprintf("• `%s` %s", escape(st.Name), escape(st.Action))
		if len(changes) > 0 {
			line += ": " + strings.Join(changes, ", ")
		}
		if st.Reason != "" {
			line += " — " + escape(st.Reason)
		}
		lines = append(lines, line)
	}
	if len(unchanged) > 0 {
		lines = append(lines, "• unchanged: "+strings.Join(unchanged, ", "))
	}
	var s strings.Builder
	fmt.Fprintf(&s, "Plan: %s\n", escape(orNone(p.Summary, plural(len(p.Changes), "change"))))
	used := 0
	for i, line := range lines {
		line = truncate(line, maxPlanLine)
		if used+len(line) > maxPlanText {
			fmt.Fprintf(&s, "…and %s of the plan\n", plural(len(lines)-i, "more line"))
			break
		}
		used += len(line) + 1
		s.WriteString(line + "\n")
	}
	return s.String()
}
