package bot_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/bot"
	"github.com/code-releaser/code-releaser/workflow"
)

// outcomes counts the bot's envelopes by type and outcome.
type outcomes struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *outcomes) Envelope(kind, outcome string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	o.n[kind+" "+outcome]++
}
func (o *outcomes) InFlight(int)           {}
func (o *outcomes) APICall(string, string) {}
func (o *outcomes) Connected(bool)         {}

func (o *outcomes) count(what string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[what]
}

// resets counts dev's reset events in the audit trail.
func (w *world) resets(t *testing.T) int {
	t.Helper()
	evs, err := w.svc.History(t.Context(), "dev", 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Action == workflow.ActionReset {
			n++
		}
	}
	return n
}

// TestResetConfirmClickIdentity: a confirm refused for one person does not
// use up the button for the next, a second reset the same day works, and
// only the very same click delivered twice is deduped.
func TestResetConfirmClickIdentity(t *testing.T) {
	m := &outcomes{}
	w := newWorld(t, options{metrics: m, envs: []workflow.Env{
		{Name: "dev", AllowedFor: map[string][]string{workflow.ActReset: {ana}}}, {Name: "stg"}, {Name: "prod", Production: true},
	}})
	w.send(t, w.slack.SlashCommand(ben, "OPS-1 dev"), 0)
	w.waitMessage(t, "released *OPS-1*")
	w.waitIdle(t, "dev") // a release announces its outcome before it gives the lease back
	released := w.repo.Head("release/dev")

	if got := w.reply(t, w.slack.SlashCommand(ben, "reset dev")); !strings.Contains(got, "Reset *dev* to master?") {
		t.Fatalf("reset reply: %q", got)
	}
	if got := w.reply(t, w.slack.Click(ben, bot.ActionConfirm, "reset:dev")); !strings.Contains(got, "may not reset dev") {
		t.Errorf("ben's confirm: %q, want a refusal", got)
	}
	if w.repo.Head("release/dev") != released || w.resets(t) != 0 {
		t.Fatal("a refused confirm reset dev")
	}
	click := w.slack.Click(ana, bot.ActionConfirm, "reset:dev")
	if got := w.reply(t, click); !strings.Contains(got, "is master again") {
		t.Fatalf("ana's confirm after ben's refused one: %q", got)
	}
	if w.repo.Head("release/dev") != w.repo.Head("master") || w.resets(t) != 1 {
		t.Fatalf("after ana's confirm: release/dev %s, master %s, %d reset(s)", w.repo.Head("release/dev"), w.repo.Head("master"), w.resets(t))
	}

	// The same click again (another connection, a replay) is deduped.
	w.send(t, w.slack.Redeliver(click), 0)
	waitFor(t, "the redelivered click to be counted a duplicate", func() bool { return m.count("interactive duplicate") == 1 })
	if n := w.resets(t); n != 1 {
		t.Errorf("resets after a redelivered click: %d, want 1", n)
	}

	// Later that day: a new ticket, a new reset, a new click.
	w.send(t, w.slack.SlashCommand(ben, "OPS-2 dev"), 0)
	w.waitMessage(t, "released *OPS-2*")
	w.waitIdle(t, "dev") // a release announces its outcome before it gives the lease back
	if w.repo.Head("release/dev") == w.repo.Head("master") {
		t.Fatal("OPS-2 is not in release/dev")
	}
	if got := w.reply(t, w.slack.Click(ana, bot.ActionConfirm, "reset:dev")); !strings.Contains(got, "is master again") {
		t.Errorf("second reset of the day: %q", got)
	}
	if w.repo.Head("release/dev") != w.repo.Head("master") || w.resets(t) != 2 {
		t.Errorf("after the second reset: release/dev %s, master %s, %d reset(s)", w.repo.Head("release/dev"), w.repo.Head("master"), w.resets(t))
	}
	// The history says who reset whose tickets.
	got := w.reply(t, w.slack.SlashCommand(ben, "history dev 20"))
	for _, want := range []string{"<@U0ANA> env.reset", "<@U0ANA> reset release/dev := master@", "OPS-2 of <@U0BEN>"} {
		if !strings.Contains(got, want) {
			t.Errorf("history lacks %q:\n%s", want, got)
		}
	}
}
