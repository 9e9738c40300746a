package bot_test

import (
	"strings"
	"testing"
)

// /release diff and /release drift through Slack, the real deployer and
// SDK against cfntest: after a release to stg, diff shows its stacks
// deployed from the branch's tip with the ticket in it; drift names the
// resource someone changed by hand.
func TestDiffAndDriftCommands(t *testing.T) {
	srv, d := infraDeployer(t)
	w := prodWorld(t, d)
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 stg"), 0)
	w.waitMessage(t, "released *OPS-1* to *stg*")
	srv.Wait()

	got := w.reply(t, w.slack.SlashCommand(ana, "diff stg"))
	for _, want := range []string{"```", "stg: what is where", "release/stg", "tickets: OPS-1", "stg-topics", "stg-queue", "= release/stg · CREATE_COMPLETE"} {
		if !strings.Contains(got, want) {
			t.Errorf("diff reply lacks %q:\n%s", want, got)
		}
	}
	if err := srv.DriftResource("stg-topics", "Orders", "DELETED", "", "", ""); err != nil {
		t.Fatal(err)
	}
	got = w.reply(t, w.slack.SlashCommand(ana, "drift stg"))
	for _, want := range []string{"stg: 1 of 2 stack(s) drifted", "Orders (AWS::SNS::Topic, ", ") DELETED", "stg-queue: IN_SYNC"} {
		if !strings.Contains(got, want) {
			t.Errorf("drift reply lacks %q:\n%s", want, got)
		}
	}
	if got := w.reply(t, w.slack.SlashCommand(ana, "drift dev")); !strings.Contains(got, "dev has no branch release/dev yet: nothing was released to it") {
		t.Errorf("drift of an env never released to: %q", got)
	}
}
