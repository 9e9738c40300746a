package bot_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/bot"
	"github.com/code-releaser/code-releaser/bot/slacktest"
	"github.com/code-releaser/code-releaser/workflow"
)

// buttonValue finds the value of the first button actionID (whose text
// contains label) in a JSON view or blocks.
func buttonValue(t *testing.T, blocks, actionID string, label ...string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(blocks), &v); err != nil {
		t.Fatal(err)
	}
	var found string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["action_id"] == actionID && found == "" {
				text, _ := x["text"].(map[string]any)
				if len(label) == 0 || strings.Contains(fmt.Sprint(text["text"]), label[0]) {
					found, _ = x["value"].(string)
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	if found == "" {
		t.Fatalf("no %s button %v in %s", actionID, label, blocks)
	}
	return found
}

// TestHandoffThroughSlack: ben presses "Ask to release" next to ana's
// ticket on his Home board; ana gets a DM with Remove it / Keep it;
// someone else cannot answer for her; her answer reaches ben by DM; an env
// admin removes a ticket with a reason that the channel and history keep.
func TestHandoffThroughSlack(t *testing.T) {
	w := newWorld(t, options{notifier: bot.NotifierConfig{AnnounceChannel: slacktest.Channel},
		envs: []workflow.Env{{Name: "dev", AllowedFor: map[string][]string{workflow.ActRemove: {"U0ADMIN"}}}, {Name: "prod", Production: true}}})
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 dev"), 0)
	w.waitMessage(t, "released *OPS-1* to *dev*")
	w.send(t, w.slack.SlashCommand(ben, "OPS-2 dev"), 0)
	w.waitMessage(t, "released *OPS-2* to *dev*")

	w.send(t, w.slack.HomeOpened(ben), 0)
	var home string
	waitFor(t, "ben's Home", func() bool {
		for _, c := range w.slack.Calls("views.publish") {
			if c.Param("user_id") == ben && strings.Contains(c.Param("view"), "Ask to release OPS-1") {
				home = c.Param("view")
				return true
			}
		}
		return false
	})
	ask := buttonValue(t, home, bot.ActionAskRelease, "OPS-1")
	if got := w.reply(t, w.slack.Click(ana, bot.ActionAskRelease, ask)); !strings.Contains(got, "OPS-1 is yours") {
		t.Errorf("ana asks about her own ticket: %q", got)
	}
	if got := w.reply(t, w.slack.Click(ben, bot.ActionAskRelease, ask)); !strings.Contains(got, "Asked <@U0ANA> to take *OPS-1* out of *dev*") {
		t.Errorf("ben's reply: %q", got)
	}
	var dm slacktest.Message
	waitFor(t, "ana's DM", func() bool {
		ms := w.slack.Messages(slacktest.DM(ana))
		if len(ms) == 0 {
			return false
		}
		dm = ms[0]
		return true
	})
	if !strings.Contains(dm.Text, "<@U0BEN> asks you to take *OPS-1* out of *dev*") {
		t.Errorf("ana's DM: %q", dm.Text)
	}
	keep, remove := buttonValue(t, dm.Blocks, bot.ActionHandoffKeep), buttonValue(t, dm.Blocks, bot.ActionHandoffRemove)

	// Only the owner (or an env admin) answers.
	if got := w.reply(t, w.slack.Click(ben, bot.ActionHandoffRemove, remove)); !strings.Contains(got, "OPS-1 is <@U0ANA>'s ticket") {
		t.Errorf("ben answers for ana: %q", got)
	}
	if got := w.reply(t, w.slack.Click(ana, bot.ActionHandoffKeep, keep)); !strings.Contains(got, "You keep *OPS-1* in *dev*; <@U0BEN> was told") {
		t.Errorf("ana's Keep it: %q", got)
	}
	waitFor(t, "ben told ana keeps it", func() bool {
		for _, m := range w.slack.Messages(slacktest.DM(ben)) {
			if strings.Contains(m.Text, "<@U0ANA> keeps *OPS-1* in *dev* for now") {
				return true
			}
		}
		return false
	})
	if got := w.reply(t, w.slack.Click(ana, bot.ActionHandoffRemove, remove)); !strings.Contains(got, "*OPS-1* left *dev*; <@U0BEN> was told") {
		t.Errorf("ana's Remove it: %q", got)
	}
	m := w.waitMessage(t, "took *OPS-1* out of *dev*")
	if !strings.Contains(m.Text, "<@U0BEN> asked for it.") {
		t.Errorf("the channel's announcement: %q", m.Text)
	}
	waitFor(t, "ben told ana removed it", func() bool {
		for _, m := range w.slack.Messages(slacktest.DM(ben)) {
			if strings.Contains(m.Text, "<@U0ANA> took *OPS-1* out of *dev* as you asked") {
				return true
			}
		}
		return false
	})

	// An env admin removes ben's ticket with a reason; ben may not.
	if got := w.reply(t, w.slack.SlashCommand(ben, "remove OPS-2 dev it is mine")); !strings.Contains(got, "may not remove dev") {
		t.Errorf("ben's remove: %q", got)
	}
	w.reply(t, w.slack.SlashCommand("U0ADMIN", "remove OPS-2 dev breaks the payments tests"))
	m = w.waitMessage(t, "took *OPS-2* out of *dev*")
	for _, want := range []string{"<@U0ADMIN> took", "<@U0BEN>: *OPS-2* left dev", "Why: breaks the payments tests."} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the forced removal's announcement %q lacks %q", m.Text, want)
		}
	}
	evs, err := w.svc.History(t.Context(), "dev", 0)
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	for _, e := range evs {
		if strings.HasPrefix(e.Action, "occupant.") {
			trail = append(trail, e.Detail)
		}
	}
	all := strings.Join(trail, "\n")
	for _, want := range []string{"U0ADMIN removed OPS-2 of U0BEN (breaks the payments tests)", "U0ANA removed OPS-1 of U0ANA (asked for by U0BEN)", "U0ANA keeps OPS-1 in dev (asked by U0BEN)", "U0BEN asked U0ANA to take OPS-1 out of dev"} {
		if !strings.Contains(all, want) {
			t.Errorf("history lacks %q:\n%s", want, all)
		}
	}
}

// TestBoardShowsExpiryAndDone: the Home board and /release status give
// each ticket's expiry, and flag a ticket whose Jira ticket is done.
func TestBoardShowsExpiryAndDone(t *testing.T) {
	w := newWorld(t, options{envs: []workflow.Env{
		{Name: "dev", Occupancy: workflow.OccupancyPolicy{RemindAfter: 72 * time.Hour, ExpireAfter: 7 * 24 * time.Hour}},
		{Name: "prod", Production: true}}})
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 dev"), 0)
	w.waitMessage(t, "released *OPS-1*")
	w.tickets.Add(workflow.Ticket{Key: "OPS-1", Summary: "Change 1", Status: "Closed", StatusCategory: "done"})
	w.send(t, w.slack.HomeOpened(ana), 0)
	waitFor(t, "views.publish", func() bool { return len(w.slack.Calls("views.publish")) > 0 })
	view := w.slack.Calls("views.publish")[0].Param("view")
	expires := time.Now().Add(7 * 24 * time.Hour).UTC()
	for _, want := range []string{"· expires in 6d23h (" + expires.Format("Jan 2"), "Jira: Closed :checkered_flag: done in Jira: remove it?"} {
		if !strings.Contains(view, want) {
			t.Errorf("the Home board lacks %q: %s", want, view)
		}
	}
	if got := w.reply(t, w.slack.SlashCommand(ben, "status dev")); !strings.Contains(got, "dev: OPS-1") {
		t.Errorf("status reply text: %q", got)
	}
	var blocks string
	for _, r := range w.slack.Responses() {
		if b, err := json.Marshal(r["blocks"]); err == nil && strings.Contains(string(b), "expires in 6d23h") {
			blocks = string(b)
		}
	}
	if blocks == "" {
		t.Errorf("no /release status reply shows the expiry: %v", w.slack.Responses())
	}
}
