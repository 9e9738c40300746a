package main

import (
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/bot/slacktest"
	"github.com/code-releaser/code-releaser/store/redistest"
	"github.com/code-releaser/code-releaser/workflow"
)

// responses returns the texts of the replies sent through response_urls.
func responses(w *replicaWorld) []string {
	var out []string
	for _, r := range w.slack.Responses() {
		text, _ := r["text"].(string)
		out = append(out, text)
	}
	return out
}

// TestCommandsWhileRedisIsDown: with the Redis primary gone and no
// failover, a /release is told at once that the state store is
// unavailable and that the bot retries, and nothing says it was queued.
// When Redis is back within the retry window the same request is queued
// (once) and released; when it stays away longer, the user is told it
// was not done, and nothing was recorded or queued.
func TestCommandsWhileRedisIsDown(t *testing.T) {
	t.Parallel() // mostly waiting for Redis to come back
	ctx := timeoutCtx(t, 90*time.Second)
	srv := redistest.Dedicated(t, redistest.Options{Persist: true})
	w := newReplicaWorldOn(ctx, t, srv, nil)
	w.storeRetry = 30 * time.Second
	a := w.start(t, "replica-a", 1, false)
	w.storeRetry = 2 * time.Second
	b := w.start(t, "replica-b", 2, false)
	a.runWorker()

	srv.Stop()
	if _, err := w.slack.Send(w.slack.SlashCommand("U0ANA", "JIRA-1 to dev"), a.conn); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the retrying reply", func() bool {
		for _, r := range responses(w) {
			if strings.Contains(r, "the state store (Redis) is unavailable") && strings.Contains(r, "Retrying for up to 30s; nothing has been done yet") {
				return true
			}
		}
		return false
	})
	time.Sleep(2 * time.Second) // down for a while
	if got := responses(w); len(got) != 1 {
		t.Errorf("replies while Redis is down: %q; want only the retrying one", got)
	}
	for _, m := range w.slack.Messages(slacktest.Channel) {
		t.Errorf("a channel message while Redis is down: %q", m.Text)
	}
	if err := srv.Restart(0); err != nil {
		t.Fatal(err)
	}
	relID := w.releaseID(t) // "next in line", once Redis is back
	final, err := waitRecord(ctx, w.store, relID)
	if err != nil {
		t.Fatal(err)
	}
	if final.State != workflow.StateReleased {
		t.Errorf("after the outage the release ended %s (%s); want released", final.State, final.Error)
	}
	if merges := gitOut(t, w.remote, "rev-list", "--merges", "master..release/dev"); len(strings.Fields(merges)) != 1 {
		t.Errorf("merge commits on release/dev: %q; want one", merges)
	}

	// Down for longer than replica B retries.
	srv.Stop()
	before := len(responses(w))
	if _, err := w.slack.Send(w.slack.SlashCommand("U0BOB", "JIRA-2 to dev"), b.conn); err != nil {
		t.Fatal(err)
	}
	var got []string
	waitUntil(t, 15*time.Second, "replica B to give up", func() bool {
		got = responses(w)[before:]
		return len(got) == 2
	})
	if !strings.Contains(got[0], "Retrying for up to 2s") ||
		!strings.Contains(got[1], "the state store (Redis) is unavailable") || !strings.Contains(got[1], "Try again") {
		t.Errorf("replies of a command that gave up: %q", got)
	}
	if err := srv.Restart(0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a worker would take anything queued now
	if q, err := w.store.Queue(ctx, "dev"); err != nil || len(q) != 0 {
		t.Errorf("dev's queue after a command that gave up: %v, %v; want empty", q, err)
	}
	if subjects := gitOut(t, w.remote, "log", "--format=%s", "master..release/dev"); strings.Contains(subjects, "JIRA-2") {
		t.Errorf("JIRA-2 reached release/dev after its command gave up:\n%s", subjects)
	}
	for _, m := range w.slack.Messages(slacktest.Channel) {
		if strings.Contains(m.Text, "JIRA-2") {
			t.Errorf("a channel message about JIRA-2, whose command gave up: %q", m.Text)
		}
	}
}
