package bot_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/bot"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

// TestSoakOverrideThroughSlack: prod requires 2h in stg. A release right
// after stg is refused naming OPS-1's stg time; a non-approver may not
// override; an approver's --override-soak reaches the approvers' preview
// (each ticket's stg time and the override), the release's thread and
// prod's history, and deploys once another approver approves.
func TestSoakOverrideThroughSlack(t *testing.T) {
	d := &workflowtest.Deployer{}
	w := newWorld(t, options{
		deployer: d,
		notifier: bot.NotifierConfig{ApprovalsChannel: approvalsChann},
		envs: []workflow.Env{
			{Name: "dev"}, {Name: "stg"},
			{Name: "prod", Production: true, RequiresEnv: "stg", Soak: 2 * time.Hour,
				Approvals: workflow.ApprovalPolicy{Required: 1, Approvers: []string{ana, ben}}},
		},
	})
	master := w.repo.MergeBranch("master", "OPS-1", "Merge pull request #1 from OPS-1")
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 stg"), 0)
	w.waitMessage(t, "released *OPS-1* to *stg*")

	w.send(t, w.slack.SlashCommand(ana, "OPS-1 prod"), 0)
	m := w.waitMessage(t, "deployed and verified in stg for 2h")
	for _, want := range []string{`OPS-1: \d+s in stg \(since `, "Try again after ", "--override-soak"} {
		if !regexp.MustCompile(want).MatchString(m.Text) {
			t.Errorf("refusal %q lacks %q", m.Text, want)
		}
	}
	if got := w.reply(t, w.slack.SlashCommand(cy, `OPS-1 prod --override-soak "payments are down"`)); !strings.Contains(got, "only prod's approvers may override its soak") {
		t.Errorf("non-approver's override: %q", got)
	}

	w.send(t, w.slack.SlashCommand(ana, `OPS-1 prod --override-soak "payments are down"`), 0)
	req, id := w.approvalRequest(t)
	for _, want := range []string{`:hourglass: Soak of 2h in \*stg\*:`, `:warning: OPS-1: \d+s in stg \(since `, "The soak was overridden by <@U0ANA>: _payments are down_"} {
		if !regexp.MustCompile(want).MatchString(req.Text) {
			t.Errorf("approval request %q lacks %q", req.Text, want)
		}
	}
	var note string
	waitFor(t, "the override in the release's thread", func() bool {
		for _, m := range w.slack.Messages("") {
			if m.Thread != "" && strings.Contains(m.Text, "overrode") {
				note = m.Text
				return true
			}
		}
		return false
	})
	for _, want := range []string{`<@U0ANA> overrode \*prod\*'s soak of 2h in \*stg\*: _payments are down_`, `• OPS-1: \d+s in stg`} {
		if !regexp.MustCompile(want).MatchString(note) {
			t.Errorf("thread note %q lacks %q", note, want)
		}
	}
	if got := w.reply(t, w.slack.Click(ben, bot.ActionApprove, id)); !strings.Contains(got, "is recorded (1 of 1)") {
		t.Errorf("approver's reply: %q", got)
	}
	w.waitMessage(t, "released *OPS-1* to *prod*")
	if got := d.Deploys(); !slices.Contains(got, workflowtest.Deploy{Env: "prod", SHA: master}) {
		t.Errorf("deploys %v: want prod at %s", got, master)
	}
	evs, err := w.svc.History(t.Context(), "prod", 0)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(evs, func(e workflow.Event) bool { return e.Action == workflow.ActionSoakOverridden })
	if i < 0 || evs[i].Actor != ana || !strings.Contains(evs[i].Detail, "payments are down") {
		t.Errorf("prod's history %+v: want a %s event by %s with the reason", evs, workflow.ActionSoakOverridden, ana)
	}
}
