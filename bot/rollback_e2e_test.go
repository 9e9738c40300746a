package bot_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/code-releaser/code-releaser/bot"
	"github.com/code-releaser/code-releaser/bot/slacktest"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

// rollbackButton waits for a thread's Roll back offer whose text has s and
// returns its button's value (the release ID).
func (w *world) rollbackButton(t *testing.T, s string) string {
	t.Helper()
	var value string
	waitFor(t, "the Roll back offer "+s, func() bool {
		for _, m := range w.slack.Messages(slacktest.Channel) {
			if m.Thread != "" && strings.Contains(m.Text, s) && strings.Contains(m.Blocks, bot.ActionRollback) {
				value = buttonValue(t, m.Blocks, bot.ActionRollback)
			}
		}
		return value != ""
	})
	return value
}

// approval waits for the approval request whose text has s and returns
// its request ID.
func (w *world) approval(t *testing.T, s string) (slacktest.Message, string) {
	t.Helper()
	var m slacktest.Message
	waitFor(t, "an approval request with "+s, func() bool {
		for _, x := range w.slack.Messages(approvalsChann) {
			if strings.Contains(x.Text, s) {
				m = x
				return true
			}
		}
		return false
	})
	return m, buttonValue(t, m.Blocks, bot.ActionApprove)
}

// A prod release whose deploy fails offers Roll back; the click asks
// prod's approvers to deploy prod's previous deploy again (what leaves is
// listed), an approver approves, prod runs the earlier commit again, the
// channel is told, and master does not move.
func TestProdRollbackThroughSlack(t *testing.T) {
	d := &workflowtest.Deployer{}
	w := prodWorld(t, d)
	good := w.repo.MergeBranch("master", "OPS-1", "Merge pull request #1 from OPS-1")
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 stg"), 0)
	w.waitMessage(t, "released *OPS-1* to *stg*")
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 prod"), 0)
	_, id := w.approval(t, "asks to deploy `"+good[:7]+"`")
	w.reply(t, w.slack.Click(ben, bot.ActionApprove, id))
	w.waitMessage(t, "released *OPS-1* to *prod*")

	bad := w.repo.MergeBranch("master", "OPS-2", "Merge pull request #2 from OPS-2")
	w.send(t, w.slack.SlashCommand(ana, "OPS-2 stg"), 0)
	w.waitMessage(t, "released *OPS-2* to *stg*")
	d.FailWith(workflow.DeployFailed, nil)
	w.send(t, w.slack.SlashCommand(ana, "OPS-2 prod"), 0)
	_, id = w.approval(t, "asks to deploy `"+bad[:7]+"`")
	w.reply(t, w.slack.Click(ben, bot.ActionApprove, id))
	w.waitMessage(t, "*OPS-2* to *prod* failed")
	d.FailWith("", nil)

	value := w.rollbackButton(t, "*prod* may run part of `"+bad[:7]+"`")
	got := w.reply(t, w.slack.Click(ana, bot.ActionRollback, value))
	if !strings.Contains(got, "You asked to roll back *prod* to `"+good[:7]+"`") {
		t.Fatalf("the click's reply: %q", got)
	}
	m, id := w.approval(t, "asks to roll back *prod*")
	for _, want := range []string{"to `" + good[:7] + "`", "in place of `" + bad[:7] + "`", "Leaving prod: 2 commits; tickets: OPS-2.", "Merge pull request #2 from OPS-2"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the rollback's approval request lacks %q:\n%s", want, m.Text)
		}
	}
	if n := len(d.Deploys()); slices.Contains(d.Deploys()[n-1:], workflowtest.Deploy{Env: "prod", SHA: good}) {
		t.Fatal("prod was redeployed before the approval")
	}
	if got := w.reply(t, w.slack.Click(ana, bot.ActionApprove, id)); !strings.Contains(got, "someone else has to approve it") {
		t.Errorf("the requester's own approval: %q", got)
	}
	w.reply(t, w.slack.Click(ben, bot.ActionApprove, id))
	t.Cleanup(func() {
		if t.Failed() {
			for _, m := range w.slack.Messages("") {
				t.Logf("%s %s: %s", m.Channel, m.Thread, m.Text)
			}
		}
	})
	done := w.waitMessage(t, "rolled back *prod*")
	if !strings.Contains(done.Text, "it runs `"+good[:7]+"` again") || !strings.Contains(done.Text, "of *OPS-2*") {
		t.Errorf("the rollback's announcement: %s", done.Text)
	}
	deploys := d.Deploys()
	if deploys[len(deploys)-1] != (workflowtest.Deploy{Env: "prod", SHA: good}) {
		t.Errorf("last deploy %v, want prod at %s again", deploys[len(deploys)-1], good[:7])
	}
	if w.repo.Head("master") != bad {
		t.Errorf("master moved")
	}
	if got := w.reply(t, w.slack.Click(ana, bot.ActionRollback, value)); !strings.Contains(got, "only the last deploy can be rolled back") {
		t.Errorf("a second click: %q", got)
	}
}
