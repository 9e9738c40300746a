package main

// Two replicas of the bot and its job worker, wired like serve, on one
// Redis and one git remote, behind one local Slack: a replica dies in
// the middle of a release and the other one finishes it, editing the same
// Slack message.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/code-releaser/code-releaser/bot"
	"github.com/code-releaser/code-releaser/bot/slacktest"
	"github.com/code-releaser/code-releaser/integrations/gitrepo"
	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/store/redistest"
	"github.com/code-releaser/code-releaser/workflow"
)

// errKilled is what a dead replica's Redis and Slack calls fail with.
var errKilled = errors.New("replica killed")

// killHook fails every Redis call of a replica once it is dead, as if its
// process were gone: no renewal, no journal step, no record write.
type killHook struct{ dead *atomic.Bool }

func (h killHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if h.dead.Load() {
			return nil, errKilled
		}
		return next(ctx, network, addr)
	}
}

func (h killHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.dead.Load() {
			cmd.SetErr(errKilled)
			return errKilled
		}
		return next(ctx, cmd)
	}
}

func (h killHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.dead.Load() {
			for _, c := range cmds {
				c.SetErr(errKilled)
			}
			return errKilled
		}
		return next(ctx, cmds)
	}
}

// killTransport fails a dead replica's Slack calls.
type killTransport struct{ dead *atomic.Bool }

func (k killTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if k.dead.Load() {
		return nil, errKilled
	}
	return http.DefaultTransport.RoundTrip(r)
}

// deployLog records every deploy of every replica.
type deployLog struct {
	mu      sync.Mutex
	entries []string // "replica env sha outcome"
}

func (l *deployLog) add(s string) { l.mu.Lock(); l.entries = append(l.entries, s); l.mu.Unlock() }
func (l *deployLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries)
}

// replicaDeployer deploys at once, or, when blocking, hangs until its
// context ends (the replica dies in the middle of the deploy).
type replicaDeployer struct {
	name    string
	log     *deployLog
	block   bool
	gate    chan struct{} // when set: deploys wait for it (or their end)
	entered chan struct{}
	once    sync.Once
}

func (d *replicaDeployer) Deploy(ctx context.Context, env workflow.Env, sha string, _ workflow.Progress) (workflow.DeployResult, error) {
	if d.gate != nil {
		d.log.add(fmt.Sprintf("%s %s %s started", d.name, env.Name, sha))
		d.once.Do(func() { close(d.entered) })
		select {
		case <-ctx.Done():
			d.log.add(fmt.Sprintf("%s %s %s interrupted", d.name, env.Name, sha))
			return workflow.DeployResult{}, ctx.Err()
		case <-d.gate:
		}
	} else if d.block {
		d.once.Do(func() { close(d.entered) })
		<-ctx.Done()
		d.log.add(fmt.Sprintf("%s %s %s interrupted", d.name, env.Name, sha))
		return workflow.DeployResult{}, ctx.Err()
	}
	d.log.add(fmt.Sprintf("%s %s %s succeeded", d.name, env.Name, sha))
	return workflow.DeployResult{SHA: sha, Status: workflow.DeploySucceeded, Summary: "1 stack updated"}, nil
}

// replica is one serve-like process: a bot on its own Socket Mode
// connection and a job worker, with their own Redis client, Slack client
// and git mirror.
type replica struct {
	name   string
	conn   int // its socket's connection number at the local Slack
	dead   atomic.Bool
	svc    *workflow.Service
	worker *workflow.Worker
	deploy *replicaDeployer
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type replicaWorld struct {
	slack    *slacktest.Server
	redis    *redistest.Server
	sentinel *redistest.Sentinel // instead of redis, when set
	leaseTTL time.Duration       // default 1s
	// storeRetry is the bot's StoreRetry for the replicas started next.
	storeRetry time.Duration
	prefix     string
	remote     string
	deploy     *deployLog
	store      *store.Redis // the test's own view of the shared state
}

func (w *replicaWorld) start(t *testing.T, name string, conn int, block bool) *replica {
	t.Helper()
	return w.startWith(t, name, conn, replicaOptions{block: block})
}

// replicaOptions vary a replica: a blocking deployer, the envs (default
// dev and prod), a clock.
type replicaOptions struct {
	block bool
	envs  []workflow.Env
	clock workflow.Clock
}

func (w *replicaWorld) startWith(t *testing.T, name string, conn int, o replicaOptions) *replica {
	t.Helper()
	if o.envs == nil {
		o.envs = []workflow.Env{{Name: "dev"}, {Name: "prod", Production: true}}
	}
	r := &replica{name: name, conn: conn}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	t.Cleanup(func() { r.cancel(); r.wg.Wait() })
	log := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("replica", name)

	rdb := w.client()
	rdb.AddHook(killHook{&r.dead})
	t.Cleanup(func() { rdb.Close() })
	st, err := store.NewRedis(rdb, store.RedisOptions{Prefix: w.prefix, SyncReplicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	client, err := bot.NewClient(log, bot.ClientConfig{BotToken: "xoxb-replicas", AppToken: "xapp-replicas", APIURL: w.slack.URL,
		HTTPClient: &http.Client{Transport: killTransport{&r.dead}, Timeout: 10 * time.Second}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := gitrepo.Open(r.ctx, log, gitrepo.Config{URL: "file://" + filepath.ToSlash(w.remote), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	// As serve wires it, with a short lease so that a dead replica's
	// lease expires within the test.
	notifier := bot.NewNotifier(log, client, bot.NotifierConfig{AnnounceChannel: slacktest.Channel}, st)
	r.deploy = &replicaDeployer{name: name, log: w.deploy, block: o.block, entered: make(chan struct{})}
	r.svc, err = workflow.NewService(log, workflow.Config{
		Envs:     o.envs,
		LeaseTTL: cmp.Or(w.leaseTTL, time.Second), PollInterval: 20 * time.Millisecond,
	}, workflow.Deps{Repo: repo, Deployer: r.deploy, Store: st, Notifier: notifier, Clock: o.clock})
	if err != nil {
		t.Fatal(err)
	}
	r.worker, err = r.svc.NewWorker(workflow.WorkerConfig{ID: name, Slots: 2, DrainTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bot.New(log, client, bot.Config{DrainTimeout: 5 * time.Second, StoreRetry: w.storeRetry}, bot.Deps{Service: r.svc, Claims: st, Notifier: notifier, Lifecycle: r.svc, Approvals: r.svc, Occupancy: r.svc, Clock: o.clock})
	if err != nil {
		t.Fatal(err)
	}
	r.wg.Go(func() { b.Run(r.ctx) })
	if err := w.slack.WaitConnections(timeoutCtx(t, 10*time.Second), conn); err != nil {
		t.Fatal(err)
	}
	return r
}

// client is a new client of the world's Redis, through the sentinels
// when there are.
func (w *replicaWorld) client() *redis.Client {
	if w.sentinel != nil {
		return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: w.sentinel.Master, SentinelAddrs: w.sentinel.SentinelAddrs(), MaxRetries: -1})
	}
	return redis.NewClient(&redis.Options{Addr: w.redis.Addr, MaxRetries: -1, MaintNotificationsConfig: store.NoMaintNotifications()})
}

// runWorker starts the replica's job worker.
func (r *replica) runWorker() { r.wg.Go(func() { r.worker.Run(r.ctx) }) }

// kill makes the replica die at once: its Redis and Slack calls fail from
// now on, as a killed process's would, and its bot and worker stop.
func (r *replica) kill() {
	r.dead.Store(true)
	r.cancel()
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func timeoutCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitUntil polls cond every 10 ms until it holds or within passes.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"--git-dir", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

var releaseIDInReply = regexp.MustCompile("release `(sl-[0-9a-f]+)`")

// TestReplicaDiesMidRelease: /release on replica A; A's worker takes the
// job and dies in the middle of the deploy (after the push); replica B's
// worker resumes it once A's lease expires, deploys, announces, and edits
// the message A posted. The ticket is merged and pushed once, released
// once, and nothing is left queued or leased.
func TestReplicaDiesMidRelease(t *testing.T) {
	ctx := timeoutCtx(t, 60*time.Second)
	w := newReplicaWorld(ctx, t)
	remote := w.remote

	a := w.start(t, "replica-a", 1, true)
	b := w.start(t, "replica-b", 2, false)
	a.runWorker()

	// The command reaches replica A's socket.
	id, err := w.slack.Send(w.slack.SlashCommand("U0ANA", "JIRA-1 to dev"), a.conn)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := w.slack.WaitAck(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Conn != a.conn || ack.Latency >= 3*time.Second {
		t.Errorf("ack on connection %d after %v; want replica A's (%d) within 3 s", ack.Conn, ack.Latency, a.conn)
	}
	relID := w.releaseID(t)

	// A's worker runs it up to the deploy, after the push.
	msgTS := w.deploying(ctx, t, a, relID)
	rec, err := w.store.GetRelease(ctx, relID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.PushedSHA == "" || rec.State != workflow.StateRunning {
		t.Fatalf("at A's deploy the record is %s with pushed %q; want running and pushed", rec.State, rec.PushedSHA)
	}

	// B's worker polls while A holds the lease, then A dies.
	b.runWorker()
	killed := time.Now()
	a.kill()

	final, err := waitRecord(ctx, w.store, relID)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(killed)
	t.Logf("replica B finished the release %v after replica A died (lease TTL 1s)", took)
	if final.State != workflow.StateReleased {
		t.Fatalf("release ended %s (%s); want released", final.State, final.Error)
	}

	// The journal: leased by A, then resumed and leased by B.
	leases, resumed := journalLeases(final.Steps)
	if len(leases) != 2 || !strings.Contains(leases[0], "worker replica-a") || !strings.Contains(leases[1], "worker replica-b") || !resumed {
		t.Errorf("leases %q, resumed %v; want A's then B's and a resumed step", leases, resumed)
	}

	// Git: JIRA-1 merged into release/dev once, and that is what B deployed.
	tip := gitOut(t, remote, "rev-parse", "release/dev")
	if tip != final.PushedSHA || final.DeployedSHA != tip {
		t.Errorf("release/dev at %s; record pushed %s, deployed %s", tip, final.PushedSHA, final.DeployedSHA)
	}
	if merges := gitOut(t, remote, "rev-list", "--merges", "master..release/dev"); len(strings.Fields(merges)) != 1 {
		t.Errorf("merge commits on release/dev: %q; want one", merges)
	}
	if subjects := gitOut(t, remote, "log", "--format=%s", "master..release/dev"); strings.Count(subjects, "JIRA-1: widen the VPC") != 1 {
		t.Errorf("release/dev brings JIRA-1's commit %d times:\n%s", strings.Count(subjects, "JIRA-1: widen the VPC"), subjects)
	}
	wantDeploys := []string{"replica-a dev " + tip + " interrupted", "replica-b dev " + tip + " succeeded"}
	if got := w.deploy.all(); !slices.Equal(got, wantDeploys) {
		t.Errorf("deploys %q, want %q", got, wantDeploys)
	}

	// Slack: one message for the release, A's, edited by B into the
	// announcement; B's details in its thread. The last edit is written
	// just after the record (edits are coalesced off the release's path).
	waitUntil(t, 10*time.Second, "the announcement", func() bool {
		for _, c := range w.slack.Calls("chat.update") {
			if c.Param("ts") == msgTS && strings.Contains(c.Param("text"), "released *JIRA-1*") {
				return true
			}
		}
		return false
	})
	var top []slacktest.Message
	var thread []slacktest.Message
	for _, m := range w.slack.Messages(slacktest.Channel) {
		switch {
		case m.Thread == "" && strings.Contains(m.Blocks, relID):
			top = append(top, m)
		case m.Thread == msgTS:
			thread = append(thread, m)
		}
	}
	if len(top) != 1 || top[0].TS != msgTS {
		t.Fatalf("release messages %+v; want one, ts %s", top, msgTS)
	}
	if !strings.Contains(top[0].Text, "released *JIRA-1* to *dev*") || !strings.Contains(top[0].Text, "Deploy succeeded") {
		t.Errorf("the message after B finished: %q", top[0].Text)
	}
	var edits []string
	for _, c := range w.slack.Calls("chat.update") {
		if c.Param("ts") == msgTS {
			edits = append(edits, c.Param("text"))
		}
	}
	if len(edits) == 0 || !strings.Contains(edits[len(edits)-1], "released *JIRA-1*") {
		t.Errorf("edits of the message: %q", edits)
	}
	if len(thread) != 1 || !strings.Contains(thread[0].Text, "resumed") {
		t.Errorf("thread replies %+v; want one journal with the resumption", thread)
	}

	// Released once; the env is free.
	if n := releasedEvents(ctx, t, w.store, "dev", relID); n != 1 {
		t.Errorf("%d %s events for the release; want 1", n, workflow.ActionReleased)
	}
	if occ, _ := w.store.Occupants(ctx, "dev"); len(occ) != 1 || occ[0].Ticket != "JIRA-1" || occ[0].MergeSHA != tip {
		t.Errorf("dev's occupants: %+v", occ)
	}
	waitUntil(t, 5*time.Second, "dev's queue and lease to clear", func() bool {
		q, _ := w.store.Queue(ctx, "dev")
		_, leased, _ := w.store.CurrentLease(ctx, "dev")
		return len(q) == 0 && !leased
	})
}

// newReplicaWorld is a local Slack, a Redis of the test's own and the
// demo's remote.
func newReplicaWorld(ctx context.Context, t *testing.T) *replicaWorld {
	t.Helper()
	return newReplicaWorldOn(ctx, t, redistest.Dedicated(t, redistest.Options{}), nil)
}

// newReplicaWorldOn is newReplicaWorld on the Redis srv, or the Sentinel
// set-up sen when srv is nil.
func newReplicaWorldOn(ctx context.Context, t *testing.T, srv *redistest.Server, sen *redistest.Sentinel) *replicaWorld {
	t.Helper()
	remote, _, err := buildDemoRemote(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := &replicaWorld{
		slack:    slacktest.NewServer(slacktest.WithPingInterval(200*time.Millisecond), slacktest.WithTokens("xoxb-replicas", "xapp-replicas")),
		redis:    srv,
		sentinel: sen,
		prefix:   redistest.Prefix(t),
		remote:   remote,
		deploy:   &deployLog{},
	}
	t.Cleanup(w.slack.Close)
	rdb := w.client()
	t.Cleanup(func() { rdb.Close() })
	w.store, err = store.NewRedis(rdb, store.RedisOptions{Prefix: w.prefix})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// releaseID waits for the reply to a /release and returns the release ID
// it gives, checking that it gives the queue position.
func (w *replicaWorld) releaseID(t *testing.T) string {
	t.Helper()
	var relID string
	waitUntil(t, 10*time.Second, "the queue position reply", func() bool {
		for _, r := range w.slack.Responses() {
			text, _ := r["text"].(string)
			if m := releaseIDInReply.FindStringSubmatch(text); m != nil {
				if !strings.Contains(text, "next in line") {
					t.Errorf("reply %q does not give the queue position", text)
				}
				relID = m[1]
				return true
			}
		}
		return false
	})
	return relID
}

// deploying waits until r's blocking deployer is entered and the release's
// message says it is deploying, and returns that message's ts.
func (w *replicaWorld) deploying(ctx context.Context, t *testing.T, r *replica, relID string) string {
	t.Helper()
	select {
	case <-r.deploy.entered:
	case <-ctx.Done():
		t.Fatalf("%s never reached the deploy", r.name)
	}
	var msgTS string
	waitUntil(t, 10*time.Second, "the release's message", func() bool {
		for _, m := range w.slack.Messages(slacktest.Channel) {
			if m.Thread == "" && strings.Contains(m.Blocks, relID) && strings.Contains(m.Blocks, "deploying") {
				msgTS = m.TS
				return true
			}
		}
		return false
	})
	return msgTS
}

// releasedEvents counts the "released" events of release id in env's
// trail, waiting a moment for the first: it is written after the record
// is final.
func releasedEvents(ctx context.Context, t *testing.T, st workflow.Store, env, id string) int {
	t.Helper()
	count := func() int {
		evs, err := st.Events(ctx, env, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Action == workflow.ActionReleased && e.ReleaseID == id {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if count() > 0 {
			break
		}
	}
	return count()
}

// waitRecord waits for release id's record to be final.
func waitRecord(ctx context.Context, st workflow.Store, id string) (workflow.Release, error) {
	for {
		r, err := st.GetRelease(ctx, id)
		if err == nil && r.State.Final() {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("release %s is still %s: %w", id, r.State, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// journalLeases returns the details of a release journal's leased steps,
// in order, and whether it has a resumed step.
func journalLeases(steps []workflow.Step) (leases []string, resumed bool) {
	for _, st := range steps {
		switch st.Name {
		case workflow.StepLeased:
			leases = append(leases, st.Detail)
		case workflow.StepResumed:
			resumed = true
		}
	}
	return leases, resumed
}
