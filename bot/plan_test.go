package bot

import (
	"fmt"
	"strings"
	"testing"

	"github.com/code-releaser/code-releaser/workflow"
)

// A large plan stays within the approval message's room, replacements
// first, and markup in names stays inert.
func TestPlanTextBounded(t *testing.T) {
	var p workflow.DeployPlan
	for s := range 30 {
		name := fmt.Sprintf("prod-stack-%02d", s)
		p.Stacks = append(p.Stacks, workflow.PlannedStack{Name: name, Action: workflow.PlanUpdate, Changes: 20})
		for r := range 20 {
			p.Changes = append(p.Changes, workflow.PlannedChange{Stack: name, Resource: fmt.Sprintf("Res%02d<!here>", r), Type: "AWS::SNS::Topic", Action: "Modify", Replacement: r == 0 && s < 5, Conditional: r == 1 && s < 5})
		}
	}
	p.Stacks = append(p.Stacks, workflow.PlannedStack{Name: "prod-same", Action: workflow.PlanNoChange})
	p.Summary = "31 stacks"
	text := planText(&p)
	if len(text) > 1700 {
		t.Errorf("%d bytes:\n%s", len(text), text)
	}
	for _, want := range []string{"Plan: 31 stacks\n:warning: *replaces* `prod-stack-00` Res00&lt;!here&gt;", ":warning: *may replace* `prod-stack-", "more lines of the plan"} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "<!here>") {
		t.Error("markup not escaped")
	}
}
