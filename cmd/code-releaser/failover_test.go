package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/bot/slacktest"
	"github.com/code-releaser/code-releaser/store/redistest"
	"github.com/code-releaser/code-releaser/workflow"
)

// TestReleaseThroughSentinelFailover: two replicas of the bot on a Redis
// primary, its replica and three sentinels. A release is deploying on
// replica A when the primary is killed (SIGKILL); the sentinels promote
// the replica. With a lease TTL longer than the failover, A's lease
// (copied to the replica before A started: SyncReplicas) is still valid
// on the new primary and A finishes the release under the same fence.
// With a shorter one, A stops working before its lease can expire, and a
// worker resumes the release from its journal under a new fence, without
// merging again. Either way: one merge, no two deploys at once, one
// "released" event, the one Slack message ends released, the env is free.
func TestReleaseThroughSentinelFailover(t *testing.T) {
	for _, tc := range []struct {
		name     string
		leaseTTL time.Duration
		resumed  bool
	}{
		{"lease outlives the failover", 12 * time.Second, false},
		{"lease expires during the failover", time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // mostly waiting for the sentinels
			ctx := timeoutCtx(t, 90*time.Second)
			started := time.Now()
			sen := redistest.DedicatedSentinel(t, redistest.SentinelOptions{DownAfter: 500 * time.Millisecond})
			t.Logf("primary + replica + 3 sentinels up in %v", time.Since(started).Round(time.Millisecond))
			w := newReplicaWorldOn(ctx, t, nil, sen)
			w.leaseTTL = tc.leaseTTL
			gate := make(chan struct{})
			a := w.start(t, "replica-a", 1, false)
			b := w.start(t, "replica-b", 2, false)
			a.deploy.gate, b.deploy.gate = gate, gate
			a.runWorker()

			id, err := w.slack.Send(w.slack.SlashCommand("U0ANA", "JIRA-1 to dev"), a.conn)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.slack.WaitAck(ctx, id); err != nil {
				t.Fatal(err)
			}
			relID := w.releaseID(t)
			msgTS := w.deploying(ctx, t, a, relID)
			b.runWorker()

			old, err := sen.Primary(ctx)
			if err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			old.Kill()
			if _, err := sen.WaitFailover(ctx, old, 30*time.Second); err != nil {
				t.Fatal(err)
			}
			t.Logf("the sentinels promoted the replica %v after the primary was killed", time.Since(killed).Round(time.Millisecond))
			if tc.resumed {
				// Let A's lease lapse before the deploy can end.
				waitUntil(t, 10*time.Second, "A's deploy to be interrupted", func() bool {
					return slices.ContainsFunc(w.deploy.all(), func(e string) bool { return strings.HasSuffix(e, "interrupted") })
				})
			}
			close(gate)

			final, err := waitRecord(ctx, w.store, relID)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("released %v after the kill; deploys %q", time.Since(killed).Round(time.Millisecond), w.deploy.all())
			if final.State != workflow.StateReleased {
				t.Fatalf("release ended %s (%s); want released", final.State, final.Error)
			}

			// The journal's leases: one (A's fence stayed valid), or A's
			// then a later one that resumed the job.
			leases, resumed := journalLeases(final.Steps)
			if tc.resumed {
				var f1, f2 int64
				if len(leases) != 2 || !resumed {
					t.Fatalf("leases %q, resumed %v; want two leases and a resumed step", leases, resumed)
				}
				fmt.Sscanf(leases[0], "fence %d", &f1)
				fmt.Sscanf(leases[1], "fence %d", &f2)
				if f2 <= f1 {
					t.Errorf("fences %d then %d; want the resumption's greater", f1, f2)
				}
			} else if len(leases) != 1 || !strings.Contains(leases[0], "worker replica-a") || resumed {
				t.Errorf("leases %q, resumed %v; want A's lease only, not resumed", leases, resumed)
			}

			// Never two deploys at once: each deploy ends before the next
			// starts, and the last one succeeded.
			deploys := w.deploy.all()
			running := 0
			for _, e := range deploys {
				if strings.HasSuffix(e, " started") {
					running++
				} else {
					running--
				}
				if running > 1 {
					t.Errorf("two deploys of dev at once: %q", deploys)
					break
				}
			}
			if len(deploys) == 0 || !strings.HasSuffix(deploys[len(deploys)-1], final.PushedSHA+" succeeded") {
				t.Errorf("deploys %q; want the last to succeed with %s", deploys, final.PushedSHA)
			}
			if want := map[bool]int{false: 2, true: 4}[tc.resumed]; len(deploys) != want {
				t.Errorf("deploys %q; want %d entries", deploys, want)
			}

			// Git: merged and pushed once.
			tip := gitOut(t, w.remote, "rev-parse", "release/dev")
			if tip != final.PushedSHA || final.DeployedSHA != tip {
				t.Errorf("release/dev at %s; record pushed %s, deployed %s", tip, final.PushedSHA, final.DeployedSHA)
			}
			if merges := gitOut(t, w.remote, "rev-list", "--merges", "master..release/dev"); len(strings.Fields(merges)) != 1 {
				t.Errorf("merge commits on release/dev: %q; want one", merges)
			}

			// Slack: the release's one message ends released (it is
			// edited after the record is written).
			var top []slacktest.Message
			released := func() bool {
				top = nil
				for _, m := range w.slack.Messages(slacktest.Channel) {
					if m.Thread == "" && strings.Contains(m.Blocks, relID) {
						top = append(top, m)
					}
				}
				return len(top) == 1 && top[0].TS == msgTS &&
					strings.Contains(top[0].Text, "released *JIRA-1* to *dev*") && strings.Contains(top[0].Text, "Deploy succeeded")
			}
			for deadline := time.Now().Add(5 * time.Second); !released() && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if !released() {
				t.Errorf("release messages %+v; want one, ts %s, saying JIRA-1 was released to dev and deployed", top, msgTS)
			}

			// Released once; the env is free.
			if n := releasedEvents(ctx, t, w.store, "dev", relID); n != 1 {
				t.Errorf("%d %s events for the release; want 1", n, workflow.ActionReleased)
			}
			waitUntil(t, 5*time.Second, "dev's queue and lease to clear", func() bool {
				q, _ := w.store.Queue(ctx, "dev")
				_, leased, _ := w.store.CurrentLease(ctx, "dev")
				return len(q) == 0 && !leased
			})
		})
	}
}
