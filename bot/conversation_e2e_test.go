package bot_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/bot"
	"github.com/code-releaser/code-releaser/bot/slacktest"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

// updates returns the chat.update calls that reached the message ts and
// were taken (429s left out).
func (w *world) updates(ts string) []slacktest.Call {
	var out []slacktest.Call
	for _, c := range w.slack.Calls("chat.update") {
		if c.Param("ts") == ts {
			out = append(out, c)
		}
	}
	return out
}

// TestIdleEnvStartsWithoutQueueText: a release to an env nobody uses says
// it is releasing from its first post; only a release that really waits
// is told its place in the queue.
func TestIdleEnvStartsWithoutQueueText(t *testing.T) {
	g := &gate{entered: make(chan struct{}), open: make(chan struct{})}
	w := newWorld(t, options{deployer: g})
	if got := w.reply(t, w.slack.SlashCommand(ana, "OPS-1 dev")); strings.Contains(got, "queue") {
		t.Errorf("the reply to a release to idle dev talks of a queue: %q", got)
	}
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the release never reached its deploy")
	}
	posts := w.slack.Calls("chat.postMessage")
	if len(posts) == 0 || !strings.Contains(posts[0].Param("text"), "<@U0ANA> is releasing *OPS-1* to *dev*") {
		t.Fatalf("first post %+v; want it to say ana is releasing OPS-1", posts)
	}
	// Ben's release waits behind ana's: told so, with who holds dev.
	if got := w.reply(t, w.slack.SlashCommand(ben, "OPS-2 dev")); !strings.Contains(got, "is #2 in the queue, behind 1 release") {
		t.Errorf("the reply to a release that waits: %q", got)
	}
	w.waitMessage(t, "<@U0BEN>'s *OPS-2* is #2 in the *dev* queue: <@U0ANA> is releasing OPS-1")
	close(g.open)
	first := w.waitMessage(t, "released *OPS-1*")
	w.waitMessage(t, "released *OPS-2*")
	for _, text := range first.Versions {
		if strings.Contains(text, "queue") || strings.Contains(text, "waits") {
			t.Errorf("ana's release, never queued behind anyone, said %q", text)
		}
	}
}

// stepper is a Deployer that reports n steps, one every pause.
type stepper struct {
	n     int
	pause time.Duration
}

func (s stepper) Deploy(ctx context.Context, env workflow.Env, sha string, progress workflow.Progress) (workflow.DeployResult, error) {
	for i := range s.n {
		progress(workflow.Step{Name: fmt.Sprintf("stack s%d", i), Detail: "UPDATE_COMPLETE"})
		time.Sleep(s.pause)
	}
	return workflow.DeployResult{SHA: sha, Status: workflow.DeploySucceeded, Summary: fmt.Sprintf("%d stacks updated", s.n)}, nil
}

// TestProgressEditsAreCoalesced: a release edits its message at most once
// per interval while it works, and its outcome is always written.
func TestProgressEditsAreCoalesced(t *testing.T) {
	t.Run("fast release", func(t *testing.T) {
		// The default interval (2 s) is longer than the release: the post,
		// then the outcome; the dozen steps between are in the journal.
		w := newWorld(t, options{deployer: stepper{n: 8}})
		w.send(t, w.slack.SlashCommand(ana, "OPS-1 dev"), 0)
		m := w.waitMessage(t, "released *OPS-1*")
		time.Sleep(300 * time.Millisecond) // anything late would show now
		ups := w.updates(m.TS)
		t.Logf("%d chat.update calls", len(ups))
		if len(ups) > 2 {
			t.Errorf("%d chat.update calls for a release faster than the edit interval; want the outcome alone (at most 2)", len(ups))
		}
		if !strings.Contains(m.Text, "Deploy succeeded: 8 stacks updated") {
			t.Errorf("the final text %q", m.Text)
		}
	})
	t.Run("slow release", func(t *testing.T) {
		const interval = 300 * time.Millisecond
		w := newWorld(t, options{deployer: stepper{n: 24, pause: 50 * time.Millisecond}, notifier: bot.NotifierConfig{EditInterval: interval}})
		w.send(t, w.slack.SlashCommand(ana, "OPS-1 dev"), 0)
		m := w.waitMessage(t, "released *OPS-1*")
		time.Sleep(2 * interval)
		ups := w.updates(m.TS)
		steps := 0
		if rec, ok := w.lastRelease(t, "dev"); ok {
			steps = len(rec.Steps)
		}
		t.Logf("%d steps, %d chat.update calls", steps, len(ups))
		if len(ups) < 2 || len(ups) >= steps/2 {
			t.Errorf("%d chat.update calls for %d steps over ~1.2 s; want progress coalesced (several, far fewer than the steps)", len(ups), steps)
		}
		for i := 1; i < len(ups)-1; i++ { // the outcome is written at once
			if gap := ups[i].At.Sub(ups[i-1].At); gap < interval-20*time.Millisecond {
				t.Errorf("edits %d and %d of the message %v apart; want at least %v", i-1, i, gap, interval)
			}
		}
		if last := ups[len(ups)-1].Param("text"); !strings.Contains(last, "released *OPS-1*") {
			t.Errorf("the last edit %q is not the outcome", last)
		}
	})
}

// TestEditRateLimitDoesNotDelayTheRelease: chat.update answers 429 with
// Retry-After 1 s; the release ends without waiting for it and the edit is
// written once Slack allows.
func TestEditRateLimitDoesNotDelayTheRelease(t *testing.T) {
	w := newWorld(t, options{deployer: stepper{n: 3}})
	w.slack.RateLimit("chat.update", 1, time.Second)
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 dev"), 0)
	var rec workflow.Release
	waitFor(t, "the release's end", func() bool {
		var ok bool
		rec, ok = w.lastRelease(t, "dev")
		return ok && rec.State.Final()
	})
	ended := time.Now()
	if rec.State != workflow.StateReleased {
		t.Fatalf("release %s: %s", rec.State, rec.Error)
	}
	m := w.waitMessage(t, "released *OPS-1*")
	ups := w.updates(m.TS)
	if len(ups) < 2 {
		t.Fatalf("chat.update calls %d; want the 429 and the retry", len(ups))
	}
	limited, retried := ups[0].At, ups[len(ups)-1].At
	t.Logf("429 at 0; the release ended at %v; the edit retried at %v", ended.Sub(limited), retried.Sub(limited))
	if gap := retried.Sub(limited); gap < time.Second {
		t.Errorf("the edit was retried %v after the 429; Retry-After asked for 1 s", gap)
	}
	if ended.After(limited.Add(900 * time.Millisecond)) {
		t.Errorf("the release ended %v after the 429: it waited for Slack", ended.Sub(limited))
	}
}

// rawID finds a person's or group's Slack ID outside a mention.
var rawID = regexp.MustCompile(`(^|[^@^A-Za-z0-9])((U0(ANA|BEN|CY))|S0PRODAPP)\b`)

// noRawIDs checks that no text in the channels names a person or a group
// by bare ID.
func (w *world) noRawIDs(t *testing.T) {
	t.Helper()
	for _, m := range w.slack.Messages("") {
		if loc := rawID.FindStringIndex(m.Text); loc != nil {
			t.Errorf("message %q names someone by bare ID", m.Text)
		}
	}
	for _, e := range w.slack.Ephemerals("") {
		if rawID.MatchString(e.Text) {
			t.Errorf("ephemeral %q names someone by bare ID", e.Text)
		}
	}
	for _, r := range w.slack.Responses() {
		if text, _ := r["text"].(string); rawID.MatchString(text) {
			t.Errorf("reply %q names someone by bare ID", text)
		}
	}
}

// TestProdApprovalNamesPeople: the preview, the votes, the refusals and
// the journal name people and groups as mentions, with proper plurals;
// a non-approver is told who can approve.
func TestProdApprovalNamesPeople(t *testing.T) {
	w := newWorld(t, options{
		notifier: bot.NotifierConfig{ApprovalsChannel: approvalsChann},
		envs: []workflow.Env{{Name: "dev"}, {Name: "prod", Production: true,
			Approvals: workflow.ApprovalPolicy{Required: 1, Approvers: []string{"S0PRODAPP", ana}}}},
	})
	w.slack.SetUserGroup("S0PRODAPP", ben)
	w.repo.MergeBranch("master", "OPS-1", "Merge OPS-1")
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 prod"), 0)
	m, id := w.approvalRequest(t)
	for _, want := range []string{"No prod deploy is recorded yet", "Needs 1 approval from <!subteam^S0PRODAPP>, <@U0ANA>;"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("approval request %q lacks %q", m.Text, want)
		}
	}
	if strings.Contains(m.Text, "Since the first prod deploy") || strings.Contains(m.Text, "(s)") {
		t.Errorf("approval request %q", m.Text)
	}
	for _, tc := range []struct{ name, user, want string }{
		// ana approves too, but not her own release.
		{"not an approver", cy, "Who can approve: <!subteam^S0PRODAPP>."},
		{"the requester", ana, "Who can approve: <!subteam^S0PRODAPP>."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := w.reply(t, w.slack.Click(tc.user, bot.ActionApprove, id))
			if !strings.Contains(got, tc.want) || strings.Contains(got, "allow list") {
				t.Errorf("reply %q; want it to name the approvers (%q), not the allow list", got, tc.want)
			}
		})
	}
	if got := w.reply(t, w.slack.Click(ben, bot.ActionApprove, id)); !strings.Contains(got, "is recorded (1 of 1)") {
		t.Errorf("approver's reply: %q", got)
	}
	rel := w.waitMessage(t, "released *OPS-1* to *prod*")
	waitFor(t, "the request marked approved", func() bool {
		return strings.Contains(w.slack.Messages(approvalsChann)[0].Text, "The request is *approved* by <@U0BEN>.")
	})
	var journal string
	waitFor(t, "the release's journal", func() bool {
		for _, x := range w.slack.Messages(slacktest.Channel) {
			if x.Thread == rel.TS && strings.Contains(x.Text, "*Journal*") {
				journal = x.Text
				return true
			}
		}
		return false
	})
	for _, want := range []string{"asked <!subteam^S0PRODAPP>, <@U0ANA> for 1 approval", "approved by <@U0BEN>"} {
		if !strings.Contains(journal, want) {
			t.Errorf("journal lacks %q:\n%s", want, journal)
		}
	}
	if blocks := w.slack.Messages(slacktest.Channel)[0].Blocks; strings.Count(blocks, ":white_check_mark: approval") != 1 {
		t.Errorf("the step line shows the approval %d times: %s", strings.Count(blocks, ":white_check_mark: approval"), blocks)
	}
	w.noRawIDs(t)
}

// pendingProd starts a prod release of OPS-1 and returns the approval
// request's message and ID once it is posted.
func pendingProd(t *testing.T, w *world) (slacktest.Message, string) {
	t.Helper()
	w.repo.MergeBranch("master", "OPS-1", "Merge OPS-1")
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 prod"), 0)
	return w.approvalRequest(t)
}

func approvalWorld(t *testing.T, d workflow.Deployer, wc workflow.WorkerConfig) *world {
	return newWorld(t, options{
		deployer: d, worker: wc,
		notifier: bot.NotifierConfig{ApprovalsChannel: approvalsChann},
		envs: []workflow.Env{{Name: "dev"}, {Name: "prod", Production: true,
			Approvals: workflow.ApprovalPolicy{Required: 1, Approvers: []string{ben}}}},
	})
}

// TestShutdownWithPendingApproval: a worker that stops (SIGTERM) while a
// prod release waits for its approval does not drain it: it stops at
// once. With shared state the request stays live and another replica's
// worker serves the click; without it the request lapses and its message
// says so and how to ask again, with no buttons left.
func TestShutdownWithPendingApproval(t *testing.T) {
	const drain = 30 * time.Second // serve's default
	t.Run("shared state", func(t *testing.T) {
		d := &workflowtest.Deployer{}
		w := approvalWorld(t, d, workflow.WorkerConfig{DrainTimeout: drain})
		_, id := pendingProd(t, w)
		start := time.Now()
		w.stopWorker()
		took := time.Since(start)
		t.Logf("the worker stopped %v after its context ended (drain timeout %v)", took, drain)
		if took > drain/3 {
			t.Errorf("the worker took %v to stop: it drained a job that waits for a person", took)
		}
		a, err := w.store.GetApproval(t.Context(), id)
		if err != nil || a.State != workflow.ApprovalPending {
			t.Fatalf("request %s after the stop: %+v, %v; want it pending", id, a, err)
		}
		if blocks := w.slack.Messages(approvalsChann)[0].Blocks; !strings.Contains(blocks, bot.ActionApprove) {
			t.Errorf("the request lost its buttons: %s", blocks)
		}
		// Another replica's worker takes the job up again.
		other, err := w.svc.NewWorker(workflow.WorkerConfig{ID: "worker-2", Slots: 2, DrainTimeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); other.Run(ctx) }()
		defer func() { cancel(); <-done }()
		waitFor(t, "the job resumed by worker-2", func() bool {
			rec, ok := w.lastRelease(t, "prod")
			return ok && slicesContainsStep(rec.Steps, workflow.StepApproval, "waiting again")
		})
		if got := w.reply(t, w.slack.Click(ben, bot.ActionApprove, id)); !strings.Contains(got, "is recorded (1 of 1)") {
			t.Errorf("the click after the restart: %q", got)
		}
		w.waitMessage(t, "released *OPS-1* to *prod*")
		if got := d.Deploys(); len(got) != 1 || got[0].Env != "prod" {
			t.Errorf("deploys %v; want prod once", got)
		}
	})
	t.Run("local state", func(t *testing.T) {
		d := &workflowtest.Deployer{}
		w := approvalWorld(t, d, workflow.WorkerConfig{DrainTimeout: drain, LocalState: true})
		_, id := pendingProd(t, w)
		start := time.Now()
		w.stopWorker()
		if took := time.Since(start); took > drain/3 {
			t.Errorf("the worker took %v to stop: it drained a job that waits for a person", took)
		}
		waitFor(t, "the request marked lapsed", func() bool {
			m := w.slack.Messages(approvalsChann)[0]
			return strings.Contains(m.Text, "The request is *lapsed*") && !strings.Contains(m.Blocks, bot.ActionApprove)
		})
		m := w.slack.Messages(approvalsChann)[0]
		if !strings.Contains(m.Text, "ask again with `/release OPS-1 prod`") {
			t.Errorf("the lapsed request %q does not say how to ask again", m.Text)
		}
		w.waitMessage(t, "ask for the release of OPS-1 to prod again")
		if a, err := w.store.GetApproval(t.Context(), id); err != nil || a.State != workflow.ApprovalLapsed {
			t.Errorf("request %s: %+v, %v; want lapsed", id, a, err)
		}
		if got := w.reply(t, w.slack.Click(ben, bot.ActionApprove, id)); !strings.Contains(got, "is lapsed") {
			t.Errorf("a click on the lapsed request: %q", got)
		}
		if len(d.Deploys()) != 0 {
			t.Errorf("deploys after the lapse: %v", d.Deploys())
		}
	})
}

// lastRelease returns the record of the last release asked for env.
func (w *world) lastRelease(t *testing.T, env string) (workflow.Release, bool) {
	evs, err := w.svc.History(t.Context(), env, 0)
	if err != nil {
		return workflow.Release{}, false
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Action == workflow.ActionRequested && evs[i].ReleaseID != "" {
			rec, err := w.store.GetRelease(t.Context(), evs[i].ReleaseID)
			return rec, err == nil
		}
	}
	return workflow.Release{}, false
}

func slicesContainsStep(steps []workflow.Step, name, detailPrefix string) bool {
	for _, s := range steps {
		if s.Name == name && strings.HasPrefix(s.Detail, detailPrefix) {
			return true
		}
	}
	return false
}
