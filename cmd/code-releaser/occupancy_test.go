package main

// The occupancy lifecycle on two replicas wired like serve (a bot, a job
// worker and an occupancy scheduler each, their own Redis client, Slack
// client and git mirror) on one real redis-server, one git remote and the
// local Slack, with a fake clock: reminders, a Keep, an expiry, a replica
// killed and another started in the middle.

import (
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/bot"
	"github.com/code-releaser/code-releaser/bot/slacktest"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

// occReplica is one serve-like process with an occupancy scheduler the
// test ticks.
type occReplica struct {
	*replica
	sched *workflow.OccupancyScheduler
}

func (w *replicaWorld) startOccupancy(t *testing.T, name string, conn int, clock workflow.Clock) *occReplica {
	t.Helper()
	r := w.startWith(t, name, conn, replicaOptions{clock: clock, envs: []workflow.Env{
		{Name: "dev", Occupancy: workflow.OccupancyPolicy{RemindAfter: 3 * 24 * time.Hour, ExpireAfter: 7 * 24 * time.Hour, MaxExtensions: 1}},
		{Name: "prod", Production: true},
	}})
	r.runWorker()
	return &occReplica{replica: r, sched: r.svc.NewOccupancyScheduler(name, 100*time.Millisecond)}
}

// tickAll ticks every live replica's scheduler at once and returns how
// many swept.
func tickAll(t *testing.T, rs ...*occReplica) int {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	swept := 0
	for _, r := range rs {
		if r.dead.Load() {
			continue
		}
		wg.Go(func() {
			ok, err := r.sched.Tick(r.ctx)
			if err != nil {
				t.Errorf("%s's tick: %v", r.name, err)
			}
			if ok {
				mu.Lock()
				swept++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return swept
}

var keepValue = regexp.MustCompile(`"action_id":"occupancy_keep"[^}]*?"value":"([^"]+)"|"value":"([^"]+)"[^}]*?"action_id":"occupancy_keep"`)

var leaveValue = regexp.MustCompile(`"action_id":"occupancy_leave"[^}]*?"value":"([^"]+)"|"value":"([^"]+)"[^}]*?"action_id":"occupancy_leave"`)

// dms returns the messages in user's DM channel.
func dms(w *replicaWorld, user string) []slacktest.Message {
	return w.slack.Messages(slacktest.DM(user))
}

func TestOccupancyAcrossReplicas(t *testing.T) {
	ctx := timeoutCtx(t, 90*time.Second)
	w := newReplicaWorld(ctx, t)
	clock := workflowtest.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	t0 := clock.Now()
	a := w.startOccupancy(t, "replica-a", 1, clock)
	b := w.startOccupancy(t, "replica-b", 2, clock)

	// ana's JIRA-1 through A, ben's JIRA-2 through B.
	for _, rel := range []struct {
		user, text string
		r          *occReplica
	}{{"U0ANA", "JIRA-1 dev", a}, {"U0BEN", "JIRA-2 dev", b}} {
		if _, err := w.slack.Send(w.slack.SlashCommand(rel.user, rel.text), rel.r.conn); err != nil {
			t.Fatal(err)
		}
		want := strings.Fields(rel.text)[0]
		waitUntil(t, 20*time.Second, want+" in dev", func() bool {
			occ, _ := w.store.Occupants(ctx, "dev")
			for _, o := range occ {
				if string(o.Ticket) == want {
					return true
				}
			}
			return false
		})
	}
	waitUntil(t, 10*time.Second, "dev's lease to clear", func() bool {
		_, leased, _ := w.store.CurrentLease(ctx, "dev")
		return !leased
	})

	// One replica sweeps at a time; before remind_after nobody is told.
	if n := tickAll(t, a, b); n != 1 {
		t.Errorf("%d replicas swept at once; want 1", n)
	}
	clock.Advance(3*24*time.Hour + time.Minute)
	for range 3 {
		if n := tickAll(t, a, b); n != 1 {
			t.Errorf("%d replicas swept at once; want 1", n)
		}
	}
	for _, u := range []string{"U0ANA", "U0BEN"} {
		if got := dms(w, u); len(got) != 1 {
			t.Fatalf("%s's DMs after 3d and three ticks on two replicas: %d; want one reminder", u, len(got))
		}
	}
	rem := dms(w, "U0ANA")[0]
	for _, want := range []string{"*JIRA-1* has been in *dev* for 3d", "Tue Dec 8 09:00 UTC", "Keep 3d more", "Remove it now"} {
		if !strings.Contains(rem.Text+rem.Blocks, want) {
			t.Errorf("ana's reminder %q %s lacks %q", rem.Text, rem.Blocks, want)
		}
	}
	if opens := w.slack.Calls("conversations.open"); len(opens) != 2 {
		t.Errorf("conversations.open calls: %d; want 2", len(opens))
	}

	// ana keeps JIRA-1 from her DM; the click reaches B, and again A.
	m := keepValue.FindStringSubmatch(rem.Blocks)
	if m == nil {
		t.Fatalf("no Keep button in %s", rem.Blocks)
	}
	click := w.slack.Click("U0ANA", bot.ActionKeep, m[1]+m[2])
	if _, err := w.slack.Send(click, b.conn); err != nil {
		t.Fatal(err)
	}
	if _, err := w.slack.Send(w.slack.Redeliver(click), a.conn); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the Keep's reply", func() bool {
		for _, r := range w.slack.Responses() {
			if s, _ := r["text"].(string); strings.Contains(s, "*JIRA-1* stays in *dev* until Fri Dec 11 09:00 UTC (kept 1 of 1 times)") {
				return true
			}
		}
		return false
	})
	if ten, err := w.store.Tenures(ctx, "dev"); err != nil || ten["JIRA-1"].Extensions != 1 {
		t.Errorf("JIRA-1's tenure after one click delivered twice: %+v, %v; want 1 Keep", ten, err)
	}

	// The replica holding the scheduler's lease dies; a new process C
	// starts (a restart).
	holder, ok, err := w.store.CurrentLease(ctx, "~occupancy")
	if err != nil || !ok {
		t.Fatalf("the scheduler's lease: %+v, %v, %v", holder, ok, err)
	}
	dead, live := a, b
	if strings.HasPrefix(holder.Token, "occupancy/replica-b/") {
		dead, live = b, a
	}
	t.Logf("the scheduler's lease is %s's; it dies", dead.name)
	dead.kill()
	c := w.startOccupancy(t, "replica-c", 3, clock)
	tip := gitOut(t, w.remote, "rev-parse", "release/dev")

	// Past JIRA-2's expiry (7d) while nobody may sweep: the next sweeper
	// removes it, once, whichever replica gets the lease.
	clock.Advance(4 * 24 * time.Hour)
	swept := 0
	waitUntil(t, 20*time.Second, "JIRA-2 to leave dev", func() bool {
		swept += tickAll(t, a, b, c)
		occ, _ := w.store.Occupants(ctx, "dev")
		return len(occ) == 1 && occ[0].Ticket == "JIRA-1"
	})
	for range 3 {
		tickAll(t, live, c)
	}
	newTip := gitOut(t, w.remote, "rev-parse", "release/dev")
	if newTip == tip {
		t.Fatal("release/dev did not move")
	}
	if subjects := gitOut(t, w.remote, "log", "--format=%s", "master..release/dev"); strings.Contains(subjects, "JIRA-2") || !strings.Contains(subjects, "JIRA-1: widen the VPC") {
		t.Errorf("release/dev after JIRA-2's expiry:\n%s", subjects)
	}
	var removals []slacktest.Message
	for _, msg := range w.slack.Messages(slacktest.Channel) {
		if strings.Contains(msg.Text, "took *JIRA-2* out of *dev*") {
			removals = append(removals, msg)
		}
	}
	if len(removals) != 1 {
		t.Fatalf("announcements of JIRA-2's removal: %d; want 1", len(removals))
	}
	for _, want := range []string{"<@U0BEN>: *JIRA-2* left dev", "Why: expired: in dev for 7d", "<@U0ANA>: your ticket *JIRA-1* was merged again"} {
		if !strings.Contains(removals[0].Text, want) {
			t.Errorf("the removal's announcement %q lacks %q", removals[0].Text, want)
		}
	}
	if after, _, _ := w.store.CurrentLease(ctx, "~occupancy"); strings.HasPrefix(after.Token, "occupancy/"+dead.name+"/") {
		t.Errorf("the scheduler's lease is still the dead %s's", dead.name)
	}
	if deploys := w.deploy.all(); !strings.Contains(strings.Join(deploys, "\n"), "dev "+newTip+" succeeded") {
		t.Errorf("deploys %q; want dev redeployed at %s", deploys, newTip)
	}

	// JIRA-1, kept until 10d, was reminded again (4 days before), once,
	// and is still in dev: the Keep outlived the replica that took it.
	if got := dms(w, "U0ANA"); len(got) != 2 || !strings.Contains(got[1].Text, "It leaves dev at Fri Dec 11 09:00 UTC") || strings.Contains(got[1].Blocks, "occupancy_keep") {
		t.Errorf("ana's DMs: %+v; want a second reminder, without Keep (none left)", got)
	}
	if got := dms(w, "U0BEN"); len(got) != 1 {
		t.Errorf("ben's DMs: %d; want only the first reminder", len(got))
	}
	evs, err := w.store.Events(ctx, "dev", 0)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range evs {
		count[e.Action+" "+string(e.Ticket)]++
	}
	for k, want := range map[string]int{"occupant.expired JIRA-2": 1, "occupant.removed JIRA-2": 1, "occupant.reminded JIRA-1": 2, "occupant.reminded JIRA-2": 1, "occupant.extended JIRA-1": 1} {
		if count[k] != want {
			t.Errorf("history: %d × %s; want %d", count[k], k, want)
		}
	}
	// ana takes JIRA-1 out from her second reminder, through the new
	// process's connection.
	lv := leaveValue.FindStringSubmatch(dms(w, "U0ANA")[1].Blocks)
	if lv == nil {
		t.Fatalf("no Remove button in ana's second reminder")
	}
	if _, err := w.slack.Send(w.slack.Click("U0ANA", bot.ActionLeave, lv[1]+lv[2]), c.conn); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "JIRA-1 to leave dev", func() bool {
		occ, _ := w.store.Occupants(ctx, "dev")
		return len(occ) == 0
	})
	if got, master := gitOut(t, w.remote, "rev-parse", "release/dev"), gitOut(t, w.remote, "rev-parse", "master"); got != master {
		t.Errorf("release/dev at %s after its last ticket left; want master's %s", got, master)
	}
	waitUntil(t, 10*time.Second, "the announcement of JIRA-1's removal", func() bool {
		for _, msg := range w.slack.Messages(slacktest.Channel) {
			if strings.Contains(msg.Text, "<@U0ANA> took *JIRA-1* out of *dev*") && strings.Contains(msg.Text, "Why: its owner removed it from the reminder.") {
				return true
			}
		}
		return false
	})
	t.Logf("%d sweeps until JIRA-2 left, after %s died; the fake clock at +%v", swept, dead.name, clock.Now().Sub(t0))
}
