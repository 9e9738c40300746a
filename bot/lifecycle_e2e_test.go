package bot_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/code-releaser/code-releaser/bot"
	"github.com/code-releaser/code-releaser/bot/slacktest"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

const (
	cy             = "U0CY"
	approvalsChann = "C0APPROVE"
)

func prodWorld(t *testing.T, d workflow.Deployer) *world {
	t.Helper()
	return newWorld(t, options{
		deployer: d,
		notifier: bot.NotifierConfig{ApprovalsChannel: approvalsChann},
		envs: []workflow.Env{
			{Name: "dev"}, {Name: "stg"},
			{Name: "prod", Production: true, RequiresEnv: "stg",
				Approvals: workflow.ApprovalPolicy{Required: 1, Approvers: []string{ana, ben}}},
		},
	})
}

// reply sends an envelope and returns the text of its response_url reply.
func (w *world) reply(t *testing.T, env map[string]any) string {
	t.Helper()
	// The reply to this envelope is the one posted to its own response_url:
	// replies to earlier commands may still be arriving.
	u, err := url.Parse(env["payload"].(map[string]any)["response_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	w.send(t, env, 0)
	var text string
	waitFor(t, "the reply", func() bool {
		for _, r := range w.slack.Responses() {
			if r["_url"] == u.Path {
				text, _ = r["text"].(string)
				return true
			}
		}
		return false
	})
	return text
}

// approvalRequest waits for the approval message and returns it and the
// request ID its buttons carry.
func (w *world) approvalRequest(t *testing.T) (slacktest.Message, string) {
	t.Helper()
	return w.approval(t, "")
}

func TestProdApprovalThroughSlack(t *testing.T) {
	d := &workflowtest.Deployer{}
	w := prodWorld(t, d)
	master := w.repo.MergeBranch("master", "OPS-1", "Merge pull request #1 from OPS-1")

	// requires_env: not through stg yet.
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 prod"), 0)
	w.waitMessage(t, "has not been released to stg")
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 stg"), 0)
	w.waitMessage(t, "released *OPS-1* to *stg*")

	w.send(t, w.slack.SlashCommand(ana, "OPS-1 prod"), 0)
	m, id := w.approvalRequest(t)
	for _, want := range []string{"<@U0ANA> asks to deploy `" + master[:7] + "`", "*prod*", "tickets: OPS-1", "Needs 1 approval from <@U0ANA>, <@U0BEN>"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("approval request %q lacks %q", m.Text, want)
		}
	}
	for _, tc := range []struct{ name, user, value, want string }{
		{"self", ana, id, "someone else has to approve it"},
		{"not an approver", cy, id, "only prod's approvers may vote"},
		{"forged id", ben, "20261126-000000-ffffff-deadbee-0badf00d", "there is no approval request"},
		{"forged markup", ben, "x}{y", "not an approval request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := w.reply(t, w.slack.Click(tc.user, bot.ActionApprove, tc.value)); !strings.Contains(got, tc.want) {
				t.Errorf("reply %q lacks %q", got, tc.want)
			}
		})
	}
	if n := len(d.Deploys()); n != 1 { // stg only
		t.Fatalf("deploys before the approval: %v", d.Deploys())
	}
	if got := w.reply(t, w.slack.Click(ben, bot.ActionApprove, id)); !strings.Contains(got, "is recorded (1 of 1)") {
		t.Errorf("approver's reply: %q", got)
	}
	w.waitMessage(t, "released *OPS-1* to *prod*")
	if got := d.Deploys(); !slices.Contains(got, workflowtest.Deploy{Env: "prod", SHA: master}) {
		t.Errorf("deploys %v: want prod at the approved %s", got, master)
	}
	waitFor(t, "the request marked approved", func() bool {
		ms := w.slack.Messages(approvalsChann)
		return strings.Contains(ms[0].Text, "The request is *approved* by <@"+ben+">.") && !strings.Contains(ms[0].Blocks, "release_approve")
	})
	// A late click on the decided request changes nothing.
	if got := w.reply(t, w.slack.Click(cy, bot.ActionReject, id)); !strings.Contains(got, "is approved") {
		t.Errorf("late reject: %q", got)
	}
	// The announcement can reach Slack just before the release's last audit
	// event is written: wait for the trail rather than read it once.
	wantTrail := []string{workflow.ActionApprovalRequested, workflow.ActionApprovalVote, workflow.ActionApprovalApproved, workflow.ActionDeployed, workflow.ActionReleased}
	var actions []string
	waitFor(t, "prod's audit trail to hold "+strings.Join(wantTrail, ", "), func() bool {
		evs, _ := w.svc.History(t.Context(), "prod", 0)
		actions = actions[:0]
		for _, e := range evs {
			actions = append(actions, e.Action)
		}
		for _, want := range wantTrail {
			if !slices.Contains(actions, want) {
				return false
			}
		}
		return true
	})
}

func TestMasterMoveVoidsApproval(t *testing.T) {
	d := &workflowtest.Deployer{}
	w := prodWorld(t, d)
	w.repo.MergeBranch("master", "OPS-1", "Merge OPS-1")
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 stg"), 0)
	w.waitMessage(t, "released *OPS-1* to *stg*")
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 prod"), 0)
	_, id := w.approvalRequest(t)
	w.repo.Commit("master", "hotfix", map[string]string{"hot.yml": "x\n"})
	w.waitMessage(t, "The approval request of")
	waitFor(t, "the request marked voided", func() bool {
		return strings.Contains(w.slack.Messages(approvalsChann)[0].Text, "The request is *voided*: master moved")
	})
	if got := w.reply(t, w.slack.Click(ben, bot.ActionApprove, id)); !strings.Contains(got, "is voided") {
		t.Errorf("approval of a void request: %q", got)
	}
	for _, dep := range d.Deploys() {
		if dep.Env == "prod" {
			t.Errorf("deployed prod after the void: %v", d.Deploys())
		}
	}
}

func TestHoldQueuesAndResetThroughSlack(t *testing.T) {
	w := newWorld(t, options{})
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 dev"), 0)
	w.waitMessage(t, "released *OPS-1*")

	w.send(t, w.slack.SlashCommand(ana, "hold dev testing payments --until 2h"), 0)
	w.waitMessage(t, "<@U0ANA> held *dev*: testing payments (until")
	w.send(t, w.slack.SlashCommand(ben, "OPS-2 dev"), 0)
	w.waitMessage(t, "queue: dev is held by <@U0ANA> (testing payments)")
	w.send(t, w.slack.SlashCommand(ana, "unhold dev"), 0)
	w.waitMessage(t, "lifted the hold on *dev*")
	w.waitMessage(t, "released *OPS-2*")
	w.waitMessage(t, "<@U0BEN>: your turn")

	// Bad hold input changes nothing.
	for _, text := range []string{"hold dev <!channel> now", "hold dev " + strings.Repeat("x", 10<<10), "hold qa x", "hold dev x --until yesterday"} {
		if got := w.reply(t, w.slack.SlashCommand(ana, text)); !strings.HasPrefix(got, ":warning:") {
			t.Errorf("%.30q: reply %q, want a refusal", text, got)
		}
	}
	if _, held, _ := w.store.Hold(t.Context(), "dev"); held {
		t.Error("a refused hold held dev")
	}

	// Reset asks first, then makes dev master and tells the occupants.
	w.waitIdle(t, "dev")
	if got := w.reply(t, w.slack.SlashCommand(ana, "reset dev")); !strings.Contains(got, "Reset *dev* to master?") {
		t.Errorf("reset reply: %q", got)
	}
	if got := w.reply(t, w.slack.SlashCommand(ana, "reset qa")); !strings.Contains(got, `there is no env "qa"`) {
		t.Errorf("reset of an unknown env: %q", got)
	}
	if got := w.reply(t, w.slack.Click(ana, bot.ActionConfirm, "reset:dev")); !strings.Contains(got, "is master again") {
		t.Errorf("confirm reply: %q", got)
	}
	m := w.waitMessage(t, "reset *dev*")
	if !strings.Contains(m.Text, "<@U0ANA> <@U0BEN>: your tickets *OPS-1*, *OPS-2* left dev") {
		t.Errorf("reset message does not tell both owners: %q", m.Text)
	}
	if w.repo.Head("release/dev") != w.repo.Head("master") {
		t.Error("release/dev is not master after the reset")
	}
	if occ, _ := w.store.Occupants(t.Context(), "dev"); len(occ) != 0 {
		t.Errorf("occupants after the reset: %v", occ)
	}
	if got := w.reply(t, w.slack.SlashCommand(ana, "remove OPS-1 dev")); !strings.Contains(got, "OPS-1 is not in dev") {
		t.Errorf("remove of a ticket not in dev: %q", got)
	}
}
