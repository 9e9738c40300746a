package main

import (
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/bot/slacktest"
	"github.com/code-releaser/code-releaser/workflow"
)

// TestStoreFlushedMidDeploy: Redis loses its data (FLUSHALL) while replica
// A deploys alice's JIRA-1 to dev, after the push. A's worker notices the
// store's epoch changed, writes the release's record again, says in the
// release's own Slack message that the outcome is unknown and where JIRA-1
// is in git, and rebuilds dev's occupants from release/dev; bob's JIRA-2
// then names alice's JIRA-1 as the other occupant of dev.
func TestStoreFlushedMidDeploy(t *testing.T) {
	ctx := timeoutCtx(t, 60*time.Second)
	w := newReplicaWorld(ctx, t)
	remote := w.remote
	a := w.start(t, "replica-a", 1, true)
	a.runWorker()

	if _, err := w.slack.Send(w.slack.SlashCommand("U0ANA", "JIRA-1 to dev"), a.conn); err != nil {
		t.Fatal(err)
	}
	relID := w.releaseID(t)
	msgTS := w.deploying(ctx, t, a, relID)
	tip := gitOut(t, remote, "rev-parse", "release/dev")

	if err := w.redis.Client(t).FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	final, err := waitRecord(ctx, w.store, relID)
	if err != nil {
		t.Fatal(err)
	}
	wantErr := "outcome is unknown: the state store was reset while it ran; JIRA-1 is on release/dev at " + tip[:7]
	if final.State != workflow.StateFailed || !strings.Contains(final.Error, wantErr) || final.PushedSHA != tip {
		t.Errorf("the record after the flush: %s, pushed %s, error %q; want failed, pushed %s, error containing %q",
			final.State, final.PushedSHA, final.Error, tip, wantErr)
	}
	// The message is edited after the record is written: wait for it.
	var top []slacktest.Message
	edited := func() bool {
		top = nil
		for _, m := range w.slack.Messages(slacktest.Channel) {
			if m.Thread == "" && strings.Contains(m.Blocks, relID) {
				top = append(top, m)
			}
		}
		return len(top) == 1 && top[0].TS == msgTS && strings.Contains(top[0].Text, "outcome is unknown") && strings.Contains(top[0].Text, tip[:7])
	}
	for deadline := time.Now().Add(5 * time.Second); !edited() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !edited() {
		t.Errorf("the release's messages after the flush: %+v; want the one at %s, edited to say the outcome is unknown and JIRA-1 is at %s", top, msgTS, tip[:7])
	}
	if occ, err := w.store.Occupants(ctx, "dev"); err != nil || len(occ) != 1 || occ[0].Ticket != "JIRA-1" || occ[0].By != "U0ANA" || occ[0].MergeSHA != tip {
		t.Errorf("dev's occupants after the flush: %+v, %v; want JIRA-1 of U0ANA at %s, from git", occ, err, tip)
	}
	waitUntil(t, 5*time.Second, "dev's lease to clear", func() bool {
		_, leased, _ := w.store.CurrentLease(ctx, "dev")
		return !leased
	})

	// The next release, on another replica, is told the truth about dev.
	a.kill()
	b := w.start(t, "replica-b", 2, false)
	b.runWorker()
	if _, err := w.slack.Send(w.slack.SlashCommand("U0BOB", "JIRA-2 to dev"), b.conn); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "bob's announcement", func() bool {
		for _, m := range w.slack.Messages(slacktest.Channel) {
			if m.Thread == "" && strings.Contains(m.Text, "released *JIRA-2* to *dev*") {
				if !strings.Contains(m.Text, "Also in dev:") || !strings.Contains(m.Text, "JIRA-1") || !strings.Contains(m.Text, "U0ANA") {
					t.Errorf("bob's announcement does not name alice's JIRA-1: %q", m.Text)
				}
				return true
			}
		}
		return false
	})
}
