package bot_test

import (
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/bot/slacktest"
	"github.com/code-releaser/code-releaser/integrations/jira"
	"github.com/code-releaser/code-releaser/integrations/jira/jiratest"
	"github.com/code-releaser/code-releaser/workflow"
)

var releaseIDRe = regexp.MustCompile("release `([^`]+)`")

// TestReleaseLinkPointsJiraAtTheThread releases through Slack with the
// Jira write-back on: the notifier's ReleaseLink is chat.getPermalink's
// link to the release's message, and the ticket's comment and remote link
// carry it.
func TestReleaseLinkPointsJiraAtTheThread(t *testing.T) {
	js := jiratest.New(jiratest.DataCenter)
	t.Cleanup(js.Close)
	js.Put(jiratest.Issue{Key: "OPS-1", Summary: "Change 1", Status: "In Review", StatusCategory: "indeterminate"})
	jc, err := jira.New(slog.New(slog.DiscardHandler), jira.Config{URL: js.URL, Token: jiratest.PAT})
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, options{recorder: jc})
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 dev"), 0)
	m := w.waitMessage(t, "released *OPS-1*")
	if strings.Contains(m.Text, "was not checked in Jira") {
		t.Errorf("a looked-up ticket's announcement says it was not checked: %q", m.Text)
	}
	want := slacktest.Permalink(slacktest.Channel, m.TS, "")

	// The write-back asked Slack for the message's link and left it on the ticket.
	waitFor(t, "a comment on OPS-1 linking the Slack thread", func() bool {
		return slices.ContainsFunc(js.Comments("OPS-1"), func(c string) bool {
			return strings.Contains(c, "[Slack thread|"+want+"]")
		})
	})
	waitFor(t, "a remote link on OPS-1 to the Slack thread", func() bool {
		for _, l := range js.Links("OPS-1") {
			if strings.Contains(string(l.Body), `"url":"`+want+`"`) {
				return true
			}
		}
		return false
	})
	// What the write-back did goes in the thread; the announcement stays.
	waitFor(t, "the write-back's account in the thread", func() bool {
		for _, x := range w.slack.Messages(slacktest.Channel) {
			if x.Thread == m.TS && strings.Contains(x.Text, ":memo: ticket: commented on OPS-1, linked dev on OPS-1") {
				return true
			}
		}
		return false
	})
	for _, x := range w.slack.Messages(slacktest.Channel) {
		if x.TS == m.TS && !strings.Contains(x.Text, "released *OPS-1*") {
			t.Errorf("the announcement was overwritten after the write-back: %q", x.Text)
		}
	}
	calls := w.slack.Calls("chat.getPermalink")
	if len(calls) == 0 {
		t.Fatal("chat.getPermalink was never called")
	}
	if c := calls[0]; c.Param("channel") != slacktest.Channel || c.Param("message_ts") != m.TS || c.Token != "xoxb-test" {
		t.Errorf("chat.getPermalink called with channel %q, message_ts %q, token %q; want %q, %q and the bot token",
			c.Param("channel"), c.Param("message_ts"), c.Token, slacktest.Channel, m.TS)
	}

	// ReleaseLink itself, for the release in the message's context line.
	sub := releaseIDRe.FindStringSubmatch(m.Blocks)
	if sub == nil {
		t.Fatalf("no release ID in the message's blocks: %s", m.Blocks)
	}
	ctx := timeout(t, 5*time.Second)
	if got := w.notifier.ReleaseLink(ctx, workflow.Release{ID: sub[1]}); got != want {
		t.Errorf("ReleaseLink = %q, want %q", got, want)
	}
	if got := w.notifier.ReleaseLink(ctx, workflow.Release{ID: "no-such-release"}); got != "" {
		t.Errorf("ReleaseLink of an unknown release = %q, want \"\"", got)
	}
	w.slack.Fail("chat.getPermalink", "message_not_found")
	if got := w.notifier.ReleaseLink(ctx, workflow.Release{ID: sub[1]}); got != "" {
		t.Errorf("ReleaseLink when Slack fails = %q, want \"\"", got)
	}
}

// TestAnnouncementSaysTicketWasNotChecked: a ticket released while Jira
// was down (allow_unvalidated) is announced with a warning saying so.
func TestAnnouncementSaysTicketWasNotChecked(t *testing.T) {
	w := newWorld(t, options{})
	why := "Jira could not be asked (Jira is not answering), so the ticket was not validated"
	w.tickets.Add(workflow.Ticket{Key: "OPS-3", Unverified: why})
	w.send(t, w.slack.SlashCommand(ben, "OPS-3 dev"), 0)
	m := w.waitMessage(t, "released *OPS-3*")
	if want := ":warning: *OPS-3* was not checked in Jira: " + why; !strings.Contains(m.Text, want) {
		t.Errorf("announcement %q lacks %q", m.Text, want)
	}
}
