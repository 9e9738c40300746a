package bot_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/bot"
	"github.com/code-releaser/code-releaser/bot/slacktest"
	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

const (
	ana = "U0ANA"
	ben = "U0BEN"
)

// world is the bot on the real workflow (fake git, in-memory store)
// talking to a local Slack.
type world struct {
	slack    *slacktest.Server
	store    *store.Memory
	repo     *workflowtest.Repo
	svc      *workflow.Service
	bots     []*bot.Bot
	notifier *bot.Notifier
	tickets  *workflowtest.Tickets
	// stopWorker stops the job worker as SIGTERM would and returns once
	// its Run returned.
	stopWorker func()
}

type options struct {
	deployer  workflow.Deployer
	approvals bot.Approvals // nil: the workflow's
	replicas  int
	envs      []workflow.Env // default dev, stg, prod
	notifier  bot.NotifierConfig
	bot       bot.Config // DrainTimeout defaults to 5 s
	// recorder, when set, writes finished releases back to their tickets
	// (workflow.RecordTickets around the Slack notifier).
	recorder workflow.TicketRecorder
	// metrics, when set, counts the bot's envelopes and calls.
	metrics bot.Metrics
	// worker configures the job worker (ID, Slots and a 100 ms
	// DrainTimeout by default).
	worker workflow.WorkerConfig
}

func newWorld(t *testing.T, o options) *world {
	t.Helper()
	w := &world{slack: slacktest.NewServer(slacktest.WithPingInterval(200 * time.Millisecond)), store: store.NewMemory(nil), repo: workflowtest.NewRepo()}
	t.Cleanup(w.slack.Close)
	t.Cleanup(func() { // report the acks' latency (Slack wants < 3 s)
		var l []time.Duration
		for _, a := range w.slack.Acks("") {
			l = append(l, a.Latency)
		}
		if len(l) > 0 {
			slices.Sort(l)
			t.Logf("acks: %d, median %v, max %v", len(l), l[len(l)/2], l[len(l)-1])
		}
	})
	for i := 1; i <= 5; i++ {
		key := fmt.Sprint("OPS-", i)
		w.repo.Branch(key, "master")
		w.repo.Commit(key, key+": change "+fmt.Sprint(i), map[string]string{fmt.Sprintf("stacks/s%d.yml", i): "v" + fmt.Sprint(i) + "\n"})
	}
	tickets := workflowtest.NewTickets()
	for i := 1; i <= 5; i++ {
		tickets.Add(workflow.Ticket{Key: workflow.TicketKey(fmt.Sprint("OPS-", i)), Summary: fmt.Sprint("Change ", i), Status: "In Review", StatusCategory: "indeterminate"})
	}
	if o.deployer == nil {
		o.deployer = &workflowtest.Deployer{}
	}
	if o.replicas == 0 {
		o.replicas = 1
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	client, err := bot.NewClient(log, bot.ClientConfig{BotToken: "xoxb-test", AppToken: "xapp-test", APIURL: w.slack.URL}, o.metrics)
	if err != nil {
		t.Fatal(err)
	}
	notifier := bot.NewNotifier(log, client, o.notifier, w.store)
	w.notifier, w.tickets = notifier, tickets
	var told workflow.Notifier = notifier
	if o.recorder != nil {
		told = workflow.RecordTickets(log, notifier, o.recorder, 5*time.Second)
	}
	if o.envs == nil {
		o.envs = []workflow.Env{{Name: "dev"}, {Name: "stg"}, {Name: "prod", Production: true}}
	}
	w.svc, err = workflow.NewService(log, workflow.Config{
		Envs:         o.envs,
		PollInterval: 10 * time.Millisecond,
	}, workflow.Deps{Repo: w.repo, Tickets: tickets, Deployer: o.deployer, Store: w.store, Notifier: told})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		// As serve does: once the worker and the bots stopped, the release
		// messages' last edits are written (and their goroutines end)
		// before Slack goes away.
		fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer fcancel()
		if err := notifier.Flush(fctx); err != nil {
			t.Errorf("write the release messages' last edits: %v", err)
		}
	})
	// The job worker runs what /release submits, one job per env at once.
	wc := o.worker
	if wc.ID == "" {
		wc.ID = "worker-1"
	}
	if wc.Slots == 0 {
		wc.Slots = len(o.envs)
	}
	if wc.DrainTimeout == 0 {
		wc.DrainTimeout = 100 * time.Millisecond
	}
	worker, err := w.svc.NewWorker(wc)
	if err != nil {
		t.Fatal(err)
	}
	workerCtx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan struct{})
	wg.Go(func() { defer close(workerDone); worker.Run(workerCtx) })
	w.stopWorker = func() { stopWorker(); <-workerDone }
	if o.approvals == nil {
		o.approvals = w.svc
	}
	for i := range o.replicas {
		cfg := o.bot
		if cfg.DrainTimeout == 0 {
			cfg.DrainTimeout = 5 * time.Second
		}
		b, err := bot.New(log.With("replica", i), client, cfg, bot.Deps{
			Service: w.svc, Claims: w.store, Notifier: notifier, Tickets: tickets, Approvals: o.approvals, Lifecycle: w.svc, Occupancy: w.svc,
		})
		if err != nil {
			t.Fatal(err)
		}
		w.bots = append(w.bots, b)
		wg.Go(func() {
			if err := b.Run(ctx); err != nil {
				t.Errorf("bot %d: %v", i, err)
			}
		})
		if err := w.slack.WaitConnections(timeout(t, 10*time.Second), i+1); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// send sends an envelope and waits for its ack, checking Slack's 3 s.
func (w *world) send(t *testing.T, env map[string]any, conn int) slacktest.Ack {
	t.Helper()
	id, err := w.slack.Send(env, conn)
	if err != nil {
		t.Fatal(err)
	}
	a, err := w.slack.WaitAck(timeout(t, 5*time.Second), id)
	if err != nil {
		t.Fatal(err)
	}
	if a.Latency >= 3*time.Second {
		t.Errorf("ack of %s took %v; Slack wants it within 3 s", id, a.Latency)
	}
	return a
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// message returns the channel message whose text contains s, threads
// included, leaving out the releases' journals: a journal (a thread
// message listing the release's steps, each detail cut at 200
// characters) repeats what the messages say, and is posted about when
// the message it repeats is edited, so a search that could find either
// found the journal now and then. Tests that want a journal read it
// themselves.
func (w *world) message(s string) (slacktest.Message, bool) {
	for _, m := range w.slack.Messages(slacktest.Channel) {
		if strings.HasPrefix(m.Text, "*Journal*") {
			continue
		}
		if strings.Contains(m.Text, s) {
			return m, true
		}
	}
	return slacktest.Message{}, false
}

func (w *world) waitMessage(t *testing.T, s string) slacktest.Message {
	t.Helper()
	var m slacktest.Message
	waitFor(t, "a message with "+s, func() bool { var ok bool; m, ok = w.message(s); return ok })
	return m
}

// waitIdle waits until no job holds env's lease.
func (w *world) waitIdle(t *testing.T, env string) {
	t.Helper()
	waitFor(t, env+" to be idle", func() bool {
		_, leased, err := w.store.CurrentLease(t.Context(), env)
		return err == nil && !leased
	})
}

func TestSlashCommandReleases(t *testing.T) {
	w := newWorld(t, options{})
	w.send(t, w.slack.SlashCommand(ben, "OPS-2 dev"), 0)
	w.waitMessage(t, "released *OPS-2*")

	a := w.send(t, w.slack.SlashCommand(ana, "ops-1 to Dev"), 0)
	t.Logf("ack latency of /release ops-1 to Dev: %v", a.Latency)
	m := w.waitMessage(t, "released *OPS-1*")
	for _, want := range []string{"<@U0ANA> released *OPS-1* to *dev*", "`release/dev` at `", "Deploy succeeded", "Also in dev: *OPS-2* (<@U0BEN>)"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("announcement %q lacks %q", m.Text, want)
		}
	}
	if m.Updates == 0 {
		t.Errorf("the release's message was never edited: %+v", m)
	}
	// The thread may also carry a "your turn" note (ana's release can queue
	// behind ben's while his job finishes); wait for the reply mentioning
	// ben, the other occupant: Slack notifies mentions only in new messages.
	waitFor(t, "a thread reply mentioning ben", func() bool {
		for _, x := range w.slack.Messages(slacktest.Channel) {
			if x.Thread == m.TS && strings.Contains(x.Text, "<@U0BEN>: *OPS-1* joined your tickets in *dev*") {
				return true
			}
		}
		return false
	})
	releases := 0
	for _, x := range w.slack.Messages(slacktest.Channel) {
		if x.Thread == "" {
			releases++
		}
	}
	if releases != 2 {
		t.Errorf("%d top-level messages for 2 releases; want one each", releases)
	}
}

func TestRedeliveredEnvelopeReleasesOnce(t *testing.T) {
	w := newWorld(t, options{})
	env := w.slack.SlashCommand(ana, "OPS-1 dev")
	w.send(t, env, 0)
	w.send(t, env, 0) // Slack re-delivers the same envelope
	w.waitMessage(t, "released *OPS-1*")
	time.Sleep(200 * time.Millisecond)
	if n := len(w.slack.Acks(env["envelope_id"].(string))); n != 2 {
		t.Errorf("%d acks, want one per delivery (2)", n)
	}
	if p := w.repo.Pushes(); len(p) != 1 {
		t.Errorf("pushes: %v; want one release", p)
	}
	top := 0
	for _, m := range w.slack.Messages(slacktest.Channel) {
		if m.Thread == "" {
			top++
		}
	}
	if top != 1 {
		t.Errorf("%d release messages, want 1", top)
	}
}

// gate is a Deployer that waits until opened.
type gate struct {
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
}

func (g *gate) Deploy(ctx context.Context, env workflow.Env, sha string, _ workflow.Progress) (workflow.DeployResult, error) {
	g.once.Do(func() { close(g.entered) })
	select {
	case <-g.open:
	case <-ctx.Done():
		return workflow.DeployResult{}, ctx.Err()
	}
	return workflow.DeployResult{SHA: sha, Status: workflow.DeploySucceeded, Summary: "1 stack updated"}, nil
}

func TestDisconnectMidReleaseLosesNothing(t *testing.T) {
	g := &gate{entered: make(chan struct{}), open: make(chan struct{})}
	w := newWorld(t, options{deployer: g})
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 dev"), 0)
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the release never reached its deploy")
	}
	if err := w.slack.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if err := w.slack.WaitConnections(timeout(t, 10*time.Second), 2); err != nil {
		t.Fatal(err)
	}
	// A command on the new connection is served while the release runs.
	a := w.send(t, w.slack.SlashCommand(ben, "status dev"), 0)
	if a.Conn != 2 {
		t.Errorf("ack on connection %d, want the new one (2)", a.Conn)
	}
	waitFor(t, "the status reply", func() bool { return len(w.slack.Responses()) > 0 })
	close(g.open)
	m := w.waitMessage(t, "released *OPS-1*")
	if !strings.Contains(m.Text, "Deploy succeeded") {
		t.Errorf("announcement after the reconnect: %q", m.Text)
	}
	if occ, _ := w.store.Occupants(t.Context(), "dev"); len(occ) != 1 || occ[0].Ticket != "OPS-1" {
		t.Errorf("dev's occupants after the reconnect: %+v", occ)
	}
}

// votes counts approvals.
type votes struct{ n atomic.Int32 }

func (v *votes) Approve(context.Context, string, workflow.User) (workflow.ApprovalRequest, error) {
	v.n.Add(1)
	return workflow.ApprovalRequest{}, nil
}
func (v *votes) Reject(context.Context, string, workflow.User) (workflow.ApprovalRequest, error) {
	return workflow.ApprovalRequest{}, nil
}

func TestClickOnTwoReplicasIsHandledOnce(t *testing.T) {
	v := &votes{}
	w := newWorld(t, options{approvals: v, replicas: 2})
	// The same click reaches both processes (Slack retried it on another
	// connection): two envelopes, one vote.
	click := w.slack.Click(ana, bot.ActionApprove, "20261126-113001-3fa9c2")
	w.send(t, click, 1)
	w.send(t, w.slack.Redeliver(click), 2)
	waitFor(t, "the approval", func() bool { return v.n.Load() >= 1 })
	time.Sleep(200 * time.Millisecond)
	if n := v.n.Load(); n != 1 {
		t.Errorf("%d approvals recorded for one click, want 1", n)
	}
	// Another person's vote on the same release counts.
	w.send(t, w.slack.Click(ben, bot.ActionApprove, "20261126-113001-3fa9c2"), 2)
	waitFor(t, "ben's approval", func() bool { return v.n.Load() == 2 })
}

func TestAppHomeShowsTheBoard(t *testing.T) {
	w := newWorld(t, options{})
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 dev"), 0)
	w.waitMessage(t, "released *OPS-1*")
	w.send(t, w.slack.HomeOpened(ana), 0)
	waitFor(t, "views.publish", func() bool { return len(w.slack.Calls("views.publish")) > 0 })
	c := w.slack.Calls("views.publish")[0]
	if c.Param("user_id") != ana {
		t.Errorf("published for %q, want %s", c.Param("user_id"), ana)
	}
	view := c.Param("view")
	for _, want := range []string{`"type":"home"`, "*dev*", "*OPS-1* \u003c@U0ANA\u003e", "Jira: In Review", "last deploy", bot.ActionRefresh} {
		if !strings.Contains(view, want) && !strings.Contains(view, strings.NewReplacer("<", `\u003c`, ">", `\u003e`).Replace(want)) {
			t.Errorf("home view lacks %q:\n%s", want, view)
		}
	}
}

func TestRateLimitIsWaitedOut(t *testing.T) {
	w := newWorld(t, options{})
	w.slack.RateLimit("chat.postMessage", 1, time.Second)
	start := time.Now()
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 dev"), 0)
	w.waitMessage(t, "released *OPS-1*")
	if took := time.Since(start); took < time.Second {
		t.Errorf("released after %v; the 429 asked to wait 1 s", took)
	}
	if n := len(w.slack.Calls("chat.postMessage")); n < 2 {
		t.Errorf("%d chat.postMessage calls; want the 429 and the retry", n)
	}
}

func TestBadInputGetsAnActionableReply(t *testing.T) {
	w := newWorld(t, options{})
	for _, tc := range []struct {
		name, text string
		edit       func(map[string]any)
		want       string
	}{
		{"empty", "", nil, "/release TICKET ENV"},
		{"10KB", strings.Repeat("OPS-1 dev ", 1024), nil, "takes a ticket and an env"},
		{"unknown env", "OPS-1 qa", nil, `there is no env "qa" (known: dev, stg, prod)`},
		{"env typo", "OPS-1 dve", nil, "did you mean dev?"},
		{"unknown subcommand", "stauts", nil, "did you mean `/release status [ENV]`?"},
		{"gibberish", "deploy-it-now please", nil, "neither a ticket key nor a command"},
		{"cyrillic lookalike", "OPS-1 dеv", nil, "U+0435"},
		{"mention", "<@U0BEN|ben> dev", nil, "mentions and channels are not arguments"},
		{"link", "<https://example.com/x|click> dev", nil, "neither a ticket key nor a command"},
		{"unknown ticket", "OPS-99 dev", nil, "there is no ticket OPS-99"},
		{"other team", "OPS-1 dev", func(p map[string]any) { p["team_id"] = "T9999" }, "serves another Slack workspace"},
		{"other app", "OPS-1 dev", func(p map[string]any) { p["api_app_id"] = "A9999" }, "meant for another Slack app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.slack.Responses())
			var edits []func(map[string]any)
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			w.send(t, w.slack.SlashCommand(ana, tc.text, edits...), 0)
			var r map[string]any
			waitFor(t, "the reply", func() bool {
				rs := w.slack.Responses()
				if len(rs) > before {
					r = rs[before]
					return true
				}
				return false
			})
			if r["response_type"] != "ephemeral" {
				t.Errorf("reply is %v, want ephemeral", r["response_type"])
			}
			if text, _ := r["text"].(string); !strings.Contains(text, tc.want) {
				t.Errorf("reply %q lacks %q", text, tc.want)
			}
		})
	}
	if p := w.repo.Pushes(); len(p) != 0 {
		t.Errorf("bad input pushed: %v", p)
	}
	if m := w.slack.Messages(""); len(m) != 0 {
		t.Errorf("bad input posted in the channel: %v", m)
	}
}

// TestConflictReportNamesFilesHunksAndOccupants: the channel message
// names the conflicting files and whose work they meet; the thread holds
// the hunks.
func TestConflictReportNamesFilesHunksAndOccupants(t *testing.T) {
	w := newWorld(t, options{})
	w.repo.Commit("OPS-3", "OPS-3: move s1", map[string]string{"stacks/s1.yml": "moved\n"})
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 dev"), 0)
	w.waitMessage(t, "released *OPS-1*")
	w.send(t, w.slack.SlashCommand(ben, "OPS-3 dev"), 0)
	m := w.waitMessage(t, "cannot go to *dev*")
	for _, want := range []string{"<@U0BEN>: *OPS-3*", "conflicts in 1 file: `stacks/s1.yml`", "Nothing was pushed", "It meets *OPS-1* of <@U0ANA> (`stacks/s1.yml`)"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("conflict message %q lacks %q", m.Text, want)
		}
	}
	// The thread gets the release's steps as well; wait for the reply
	// that carries the conflict's details.
	var thread string
	waitFor(t, "the conflict's details in its thread", func() bool {
		for _, x := range w.slack.Messages(slacktest.Channel) {
			if x.Thread == m.TS && strings.Contains(x.Blocks, "Whose work it meets") {
				thread = x.Blocks
				return true
			}
		}
		return false
	})
	for _, want := range []string{"stacks/s1.yml", "`release/dev` line 1 vs `OPS-3` line 1", "- v1", "+ moved", "Whose work it meets", "*OPS-1* of \\u003c@U0ANA\\u003e"} {
		if !strings.Contains(thread, want) {
			t.Errorf("conflict thread lacks %q:\n%s", want, thread)
		}
	}
	// Ben's command was answered "next in line" before the merge: he is
	// told the files, the ticket and its owner directly, with the thread.
	var eph []slacktest.Ephemeral
	waitFor(t, "the ephemeral message to ben", func() bool { eph = w.slack.Ephemerals(ben); return len(eph) > 0 })
	for _, want := range []string{"conflicts in 1 file: `stacks/s1.yml`", "It meets *OPS-1* of <@U0ANA> (`stacks/s1.yml`)", "Nothing was pushed",
		slacktest.Permalink(slacktest.Channel, m.TS, "")} {
		if !strings.Contains(eph[0].Text, want) {
			t.Errorf("ephemeral %q lacks %q", eph[0].Text, want)
		}
	}
	if eph[0].Channel != slacktest.Channel {
		t.Errorf("ephemeral in %q, want the release's channel %s", eph[0].Channel, slacktest.Channel)
	}
	if n := len(w.slack.Ephemerals(ana)); n != 0 {
		t.Errorf("ana got %d ephemeral messages; the conflict is ben's", n)
	}
	w.noRawIDs(t)
}
