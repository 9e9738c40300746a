package bot_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/code-releaser/code-releaser/bot"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

// TestUserGroupsInAllowListsAndApprovers: dev allows the S0DEVOPS group,
// prod's approvers are the S0PRODAPP group; the bot resolves them with
// usergroups.users.list, caches the members and lists a group again when
// someone is not found in it.
func TestUserGroupsInAllowListsAndApprovers(t *testing.T) {
	d := &workflowtest.Deployer{}
	w := newWorld(t, options{
		deployer: d,
		notifier: bot.NotifierConfig{ApprovalsChannel: approvalsChann},
		envs: []workflow.Env{
			{Name: "dev", Allowed: []string{"S0DEVOPS"}},
			{Name: "prod", Production: true, Approvals: workflow.ApprovalPolicy{Required: 1, Approvers: []string{"S0PRODAPP"}}},
		},
		// Every miss lists the group again, so that a member added is
		// seen on their next command.
		bot: bot.Config{GroupMissRefresh: 1},
	})
	w.slack.SetUserGroup("S0DEVOPS", ana)
	w.slack.SetUserGroup("S0PRODAPP", ben)
	listed := func() int { return len(w.slack.Calls("usergroups.users.list")) }

	// A member releases; the reply comes at once with the queue position.
	if got := w.reply(t, w.slack.SlashCommand(ana, "OPS-1 dev")); !strings.Contains(got, "is next in line") {
		t.Errorf("member's reply: %q", got)
	}
	w.waitMessage(t, "released *OPS-1* to *dev*")
	n := listed()
	if n != 2 {
		t.Errorf("%d usergroups.users.list calls for the first command; want one per configured group (2)", n)
	}
	for _, c := range w.slack.Calls("usergroups.users.list") {
		if !slices.Contains([]string{"S0DEVOPS", "S0PRODAPP"}, c.Param("usergroup")) || !strings.HasPrefix(c.Token, "xoxb-") {
			t.Errorf("usergroups.users.list call %+v", c)
		}
	}
	// Found in the cache: no new call.
	w.send(t, w.slack.SlashCommand(ana, "OPS-3 dev"), 0)
	w.waitMessage(t, "*OPS-3*")
	if got := listed(); got != n+1 { // only S0PRODAPP, where ana is missing, is listed again
		t.Errorf("%d calls after a cached member's command; want %d", got, n+1)
	}

	// A non-member is refused, changing nothing.
	if got := w.reply(t, w.slack.SlashCommand(ben, "OPS-2 dev")); !strings.Contains(got, "may not release to dev") {
		t.Errorf("non-member's reply: %q", got)
	}
	if occ, _ := w.store.Occupants(t.Context(), "dev"); slices.ContainsFunc(occ, func(o workflow.Occupant) bool { return o.Ticket == "OPS-2" }) {
		t.Errorf("a non-member's ticket is in dev: %+v", occ)
	}
	// Added to the group, the next command finds them.
	w.slack.SetUserGroup("S0DEVOPS", ana, ben)
	if got := w.reply(t, w.slack.SlashCommand(ben, "OPS-2 dev")); !strings.Contains(got, "in the queue") && !strings.Contains(got, "next in line") {
		t.Errorf("new member's reply: %q", got)
	}
	w.waitMessage(t, "released *OPS-2* to *dev*")

	// Prod: only members of S0PRODAPP may approve. The request is
	// answered at once; the worker waits for the approval.
	master := w.repo.MergeBranch("master", "OPS-1", "Merge pull request #1 from OPS-1")
	if got := w.reply(t, w.slack.SlashCommand(ana, "OPS-1 prod")); !strings.Contains(got, "next in line") {
		t.Errorf("prod request's reply: %q", got)
	}
	_, id := w.approvalRequest(t)
	if got := w.reply(t, w.slack.Click(cy, bot.ActionApprove, id)); !strings.Contains(got, "only prod's approvers may vote") {
		t.Errorf("non-member's vote: %q", got)
	}
	if got := w.reply(t, w.slack.Click(ben, bot.ActionApprove, id)); !strings.Contains(got, "is recorded (1 of 1)") {
		t.Errorf("group member's vote: %q", got)
	}
	w.waitMessage(t, "released *OPS-1* to *prod*")
	if got := d.Deploys(); !slices.Contains(got, workflowtest.Deploy{Env: "prod", SHA: master}) {
		t.Errorf("deploys %v: want prod at %s", got, master)
	}
}
