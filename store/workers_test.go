package store_test

// Fault tests of the Redis store under real worker processes: the test
// binary re-executes itself as TestHelperProcess, a Worker on Redis and a
// git mirror of a bare remote, and the tests kill those processes and
// restart Redis under them.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/code-releaser/code-releaser/integrations/gitrepo"
	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/store/redistest"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

// helperEnv is set in the environment of a helper worker process.
const helperEnv = "CODE_RELEASER_TEST_WORKER"

// workerSpec configures one helper worker process.
type workerSpec struct {
	ID       string
	Redis    string // host:port, or "cluster:" and the nodes' host:port, comma-separated
	Sync     int    // RedisOptions.SyncReplicas
	Prefix   string
	Remote   string // URL
	Cache    string // mirror cache dir
	Envs     []string
	Serve    []string // the envs it takes jobs of; all when empty
	LeaseTTL time.Duration
	DieAt    string // journal step at which the process SIGKILLs itself
	Deploys  string // file the deployer appends "env sha worker" lines to
	Slots    int
}

func (s workerSpec) environ() []string {
	return append(os.Environ(),
		helperEnv+"=1",
		"CR_ID="+s.ID, "CR_REDIS="+s.Redis, "CR_PREFIX="+s.Prefix, "CR_REMOTE="+s.Remote,
		"CR_CACHE="+s.Cache, "CR_ENVS="+strings.Join(s.Envs, ","), "CR_SERVE="+strings.Join(s.Serve, ","),
		"CR_LEASE_TTL="+s.LeaseTTL.String(), "CR_DIE_AT="+s.DieAt, "CR_DEPLOYS="+s.Deploys,
		"CR_SLOTS="+strconv.Itoa(s.Slots), "CR_SYNC="+strconv.Itoa(s.Sync),
	)
}

// worker is a running helper process.
type worker struct {
	cmd  *exec.Cmd
	done chan struct{}
	died time.Time // when it exited
	log  string
}

// startWorker starts a helper worker process; it is stopped when t ends.
func startWorker(t *testing.T, spec workerSpec) *worker {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), spec.ID+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v=false")
	cmd.Env = spec.environ()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &worker{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		cmd.Wait()
		w.died = time.Now()
		logf.Close()
		close(w.done)
	}()
	t.Cleanup(func() {
		w.stop()
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("log of %s:\n%s", spec.ID, tail(string(data), 4000))
		}
	})
	return w
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// stop ends the process gracefully (SIGTERM) and waits for it.
func (w *worker) stop() {
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		w.cmd.Process.Kill()
		<-w.done
	}
}

// TestHelperProcess is a worker process when run by the tests below, and
// nothing otherwise.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("a helper process of the worker tests")
	}
	if err := runHelperWorker(); err != nil {
		fmt.Fprintln(os.Stderr, "helper worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runHelperWorker() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	id := os.Getenv("CR_ID")
	ttl, err := time.ParseDuration(os.Getenv("CR_LEASE_TTL"))
	if err != nil {
		return err
	}
	var rdb redis.UniversalClient
	if nodes, ok := strings.CutPrefix(os.Getenv("CR_REDIS"), "cluster:"); ok {
		rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(nodes, ","), ClusterStateReloadInterval: store.ClusterReload, MaintNotificationsConfig: store.NoMaintNotifications()})
	} else {
		rdb = redis.NewClient(&redis.Options{Addr: os.Getenv("CR_REDIS"), MaintNotificationsConfig: store.NoMaintNotifications()})
	}
	defer rdb.Close()
	sync, _ := strconv.Atoi(os.Getenv("CR_SYNC"))
	st, err := store.NewRedis(rdb, store.RedisOptions{Prefix: os.Getenv("CR_PREFIX"), SyncReplicas: sync})
	if err != nil {
		return err
	}
	repo, err := gitrepo.Open(ctx, log, gitrepo.Config{URL: os.Getenv("CR_REMOTE"), CacheDir: os.Getenv("CR_CACHE"), BotEmail: "bot@example.com"})
	if err != nil {
		return err
	}
	defer repo.Close()
	var envs []workflow.Env
	for _, e := range strings.Split(os.Getenv("CR_ENVS"), ",") {
		envs = append(envs, workflow.Env{Name: e})
	}
	svc, err := workflow.NewService(log, workflow.Config{Envs: envs, LeaseTTL: ttl, PollInterval: 20 * time.Millisecond}, workflow.Deps{
		Repo: repo, Store: st,
		Deployer: fileDeployer{path: os.Getenv("CR_DEPLOYS"), worker: id},
		Notifier: dieAtNotifier{step: os.Getenv("CR_DIE_AT")},
	})
	if err != nil {
		return err
	}
	var serve []string
	if s := os.Getenv("CR_SERVE"); s != "" {
		serve = strings.Split(s, ",")
	}
	slots, _ := strconv.Atoi(os.Getenv("CR_SLOTS"))
	w, err := svc.NewWorker(workflow.WorkerConfig{ID: id, Envs: serve, Slots: slots, DrainTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// fileDeployer appends each deploy to a file shared by the processes.
type fileDeployer struct{ path, worker string }

func (d fileDeployer) Deploy(ctx context.Context, env workflow.Env, sha string, progress workflow.Progress) (workflow.DeployResult, error) {
	f, err := os.OpenFile(d.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return workflow.DeployResult{}, err
	}
	_, err = fmt.Fprintf(f, "%s %s %s\n", env.Name, sha, d.worker)
	f.Close()
	if err != nil {
		return workflow.DeployResult{}, err
	}
	progress(workflow.Step{Name: "stack app", Detail: "UPDATE_COMPLETE"})
	time.Sleep(10 * time.Millisecond)
	return workflow.DeployResult{SHA: sha, Status: workflow.DeploySucceeded, Summary: "1 stack"}, nil
}

// dieAtNotifier SIGKILLs its own process right after the journal step
// named step; it tells nothing else.
type dieAtNotifier struct {
	workflow.NopNotifier
	step string
}

func (n dieAtNotifier) Progress(ctx context.Context, r workflow.Release, s workflow.Step) error {
	if n.step != "" && s.Name == n.step {
		fmt.Fprintf(os.Stderr, "dying at %s of %s\n", s.Name, r.ID)
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Hour)
	}
	return nil
}

// infraRemote makes a bare remote with master and one branch per ticket,
// OPS-1..OPS-n, each adding a file of its own.
func infraRemote(t *testing.T, n int) *gittest.Remote {
	t.Helper()
	r := gittest.NewRemote(t, "", "infra")
	w := r.Clone(t)
	w.Commit(t, "initial", map[string]string{"README": "infra\n"})
	refs := []string{"master"}
	for i := 1; i <= n; i++ {
		name := fmt.Sprint("OPS-", i)
		w.Branch(t, name, "master")
		w.Commit(t, name, map[string]string{fmt.Sprintf("stacks/%d.yml", i): fmt.Sprintf("ticket: %d\n", i)})
		refs = append(refs, name)
	}
	w.Push(t, refs...)
	return r
}

// submitter is a Service on the Redis store that only submits jobs.
func submitter(t *testing.T, rdb redis.UniversalClient, prefix string, envs []string) (*workflow.Service, *store.Redis) {
	t.Helper()
	st, err := store.NewRedis(rdb, store.RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	var es []workflow.Env
	for _, e := range envs {
		es = append(es, workflow.Env{Name: e})
	}
	svc, err := workflow.NewService(nil, workflow.Config{Envs: es}, workflow.Deps{
		Repo: workflowtest.NewRepo(), Store: st, Notifier: &workflowtest.Notifier{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, st
}

// releaseMerges counts the bot's merges of each ticket on env's branch.
func releaseMerges(t *testing.T, remote *gittest.Remote, env string) map[string]int {
	t.Helper()
	out, err := gittest.RunGit(remote.Dir, nil, "log", "--format=%s", "release/"+env)
	if err != nil {
		return nil
	}
	n := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "Release" && f[3] == env {
			n[f[1]]++
		}
	}
	return n
}

// leaseSpan is one holding of an env's lease by a job, from its journal.
type leaseSpan struct {
	fence      int64
	start, end time.Time
	id         string
	last       string // the journal step that ends it
}

// spans returns the lease holdings of r: each leased step to the next
// journal step that ends it (hand-off, the next leased step) or the
// record's final update.
func spans(t *testing.T, r workflow.Release) []leaseSpan {
	t.Helper()
	var out []leaseSpan
	for i, s := range r.Steps {
		if s.Name != workflow.StepLeased {
			continue
		}
		var f int64
		if _, err := fmt.Sscanf(s.Detail, "fence %d", &f); err != nil {
			t.Fatalf("%s: leased step %q: %v", r.ID, s.Detail, err)
		}
		sp := leaseSpan{fence: f, start: s.At, end: s.At, id: r.ID, last: s.Name}
		last := true
		for _, next := range r.Steps[i+1:] {
			if next.Name == workflow.StepLeased {
				last = false
				break
			}
			sp.end, sp.last = next.At, next.Name
		}
		if last && r.UpdatedAt.After(sp.end) {
			sp.end, sp.last = r.UpdatedAt, "final update"
		}
		out = append(out, sp)
	}
	return out
}

// waitFinal waits for release id to reach a final state.
func waitFinal(t *testing.T, st workflow.Store, id string, within time.Duration) workflow.Release {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r, err := st.GetRelease(t.Context(), id)
		if err == nil && r.State.Final() {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("release %s not final after %v: state %s, journal %v (err %v)", id, within, r.State, stepNames(r), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func stepNames(r workflow.Release) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Name)
	}
	return out
}

// waitIdle waits until env's lease is free and its queue empty.
func waitIdle(t *testing.T, st workflow.Store, env string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		l, held, err1 := st.CurrentLease(t.Context(), env)
		q, err2 := st.Queue(t.Context(), env)
		if err1 == nil && err2 == nil && !held && len(q) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s not idle after %v: lease %+v (%v), queue %v (%v, %v)", env, within, l, held, q, err1, err2)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// request is one ticket's release request and its submissions.
type request struct {
	ticket, env string
	ids         []string // every attempt's release ID
}

// submitAll submits n releases, OPS-i to envs[i%len(envs)], calling
// middle before the n/2th; a submission that fails is submitted again
// under a new ID.
func submitAll(t *testing.T, svc *workflow.Service, n int, envs []string, middle func()) []*request {
	t.Helper()
	reqs := make([]*request, n)
	for i := range n {
		if i == n/2 && middle != nil {
			middle()
		}
		rq := &request{ticket: fmt.Sprint("OPS-", i+1), env: envs[i%len(envs)]}
		reqs[i] = rq
		for attempt := 0; ; attempt++ {
			id := fmt.Sprintf("job-%02d-%d", i+1, attempt)
			rq.ids = append(rq.ids, id)
			r, _, err := svc.Submit(t.Context(), workflow.ReleaseRequest{ID: id, Ticket: rq.ticket, Env: rq.env, User: workflow.User{ID: "U1"}})
			if err == nil && r.State == workflow.StateQueued {
				break
			}
			t.Logf("submit %s (attempt %d): %s, %v", rq.ticket, attempt, r.State, err)
			if attempt == 100 {
				t.Fatalf("cannot submit %s", rq.ticket)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return reqs
}

// runCounts are what checkRun saw.
type runCounts struct {
	submissions, released, failed, resumed int
	exactlyOnce, mergedOnce                int // tickets
	envsInOrder, overlaps                  int
}

// checkRun waits for every submission to be final and checks, counting:
// each ticket released once and merged into its env branch once, each
// env's jobs run in submission order, no two jobs holding an env at once,
// every failure with a reason.
func checkRun(t *testing.T, st workflow.Store, remote *gittest.Remote, reqs []*request, envs []string, within time.Duration) runCounts {
	t.Helper()
	var c runCounts
	byEnv := map[string][]leaseSpan{}
	order := map[string][]int64{}
	for _, rq := range reqs {
		released := 0
		for _, id := range rq.ids {
			r, err := st.GetRelease(t.Context(), id)
			if workflow.KindOf(err) == workflow.NotFound {
				continue // the submit failed before recording anything, and said so
			}
			c.submissions++
			r = waitFinal(t, st, id, within)
			switch {
			case r.State == workflow.StateReleased:
				released++
				c.released++
				sp := spans(t, r)
				if len(sp) > 1 {
					c.resumed++
				}
				byEnv[rq.env] = append(byEnv[rq.env], sp...)
				order[rq.env] = append(order[rq.env], sp[0].fence)
			case r.Error == "":
				t.Errorf("%s (%s): %s without a reason", id, rq.ticket, r.State)
			default:
				c.failed++
			}
		}
		if released != 1 {
			t.Errorf("%s: %d releases, want 1 (attempts %v)", rq.ticket, released, rq.ids)
		} else {
			c.exactlyOnce++
		}
	}
	for _, env := range envs {
		merges := releaseMerges(t, remote, env)
		for _, rq := range reqs {
			want := 0
			if rq.env == env {
				want = 1
			}
			if merges[rq.ticket] != want {
				t.Errorf("release/%s merges %s %d times, want %d", env, rq.ticket, merges[rq.ticket], want)
			} else if want == 1 {
				c.mergedOnce++
			}
		}
		if !slices.IsSorted(order[env]) {
			t.Errorf("%s ran its jobs with first fences %v, want the submission order", env, order[env])
		} else {
			c.envsInOrder++
		}
		sp := byEnv[env]
		slices.SortFunc(sp, func(a, b leaseSpan) int { return int(a.fence - b.fence) })
		for i := 1; i < len(sp); i++ {
			if sp[i].fence == sp[i-1].fence {
				c.overlaps++
				t.Errorf("%s: jobs %s and %s both hold fence %d", env, sp[i-1].id, sp[i].id, sp[i].fence)
			}
			if sp[i].start.Before(sp[i-1].end) {
				c.overlaps++
				t.Errorf("%s: job %s (fence %d) started at %v before job %s (fence %d) ended at %v (%s)",
					env, sp[i].id, sp[i].fence, sp[i].start, sp[i-1].id, sp[i-1].fence, sp[i-1].end, sp[i-1].last)
			}
		}
	}
	return c
}

// TestWorkerProcesses: two worker processes on one Redis and one bare
// remote run 50 releases across 3 envs while Redis restarts under them.
// Every ticket lands in its env branch exactly once, no two jobs hold an
// env at once, each env runs its jobs in submission order, and every
// request ends released or failed with a reason.
func TestWorkerProcesses(t *testing.T) {
	gittest.RequireGit(t)
	srv := redistest.Dedicated(t, redistest.Options{Persist: true})
	const n = 50
	envs := []string{"dev", "qa", "stg"}
	remote := infraRemote(t, n)
	dir := t.TempDir()
	prefix := redistest.Prefix(t)
	var workers []*worker
	for _, id := range []string{"a", "b"} {
		workers = append(workers, startWorker(t, workerSpec{
			ID: id, Redis: srv.Addr, Prefix: prefix, Remote: remote.URL(), Cache: filepath.Join(dir, id),
			Envs: envs, LeaseTTL: 2 * time.Second, Deploys: filepath.Join(dir, "deploys"), Slots: 3,
		}))
	}
	rdb := srv.Client(t)
	svc, st := submitter(t, rdb, prefix, envs)

	// Longer than go-redis's retries, so that the workers see it, and
	// than a lease can go unrenewed: the jobs running then are handed off
	// and resumed.
	const outage = 2500 * time.Millisecond
	start := time.Now()
	var restarted sync.WaitGroup
	reqs := submitAll(t, svc, n, envs, func() {
		restarted.Go(func() {
			if err := srv.Restart(outage); err != nil {
				t.Errorf("restart Redis: %v", err)
			}
		})
	})
	restarted.Wait()
	submitted := time.Since(start)
	c := checkRun(t, st, remote, reqs, envs, 40*time.Second)
	took := time.Since(start)
	resumed := c.resumed
	for _, env := range envs {
		waitIdle(t, st, env, 5*time.Second)
	}
	t.Logf("%d releases over %d envs by 2 worker processes, Redis down %v mid-run: submitted in %v, all final after %v; %d resumed after losing their lease",
		n, len(envs), outage, submitted.Round(time.Millisecond), took.Round(time.Millisecond), resumed)
	reported := 0
	for _, w := range workers {
		w.stop()
		data, _ := os.ReadFile(w.log)
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
				reported++
				if reported <= 5 {
					t.Logf("reported: %s", tail(line, 300))
				}
			}
		}
	}
	if reported == 0 {
		t.Error("the workers logged nothing about Redis going away")
	}
}

// TestWorkerProcessKilled kills a worker process with SIGKILL right after
// each journal step of a release; another process finishes the job within
// the lease TTL plus a margin of its start (or of the kill, when that came
// later), without merging a pushed release again,
// re-running a deploy that may have happened, and leaves the env free.
func TestWorkerProcessKilled(t *testing.T) {
	gittest.RequireGit(t)
	srv := redistest.Shared(t)
	steps := []string{
		workflow.StepLeased, workflow.StepFetched, workflow.StepResolved, workflow.StepChecked,
		workflow.StepCreated, workflow.StepMerged, workflow.StepPushed, workflow.StepOccupied,
		workflow.StepDeploying, "stack app", workflow.StepDeployed, workflow.StepAnnounced,
	}
	const ttl = time.Second
	const margin = 3 * time.Second
	var envs []string
	for i := range steps {
		envs = append(envs, fmt.Sprint("k", i+1))
	}
	remote := infraRemote(t, len(steps))
	dir := t.TempDir()
	prefix := redistest.Prefix(t)
	deploys := filepath.Join(dir, "deploys")
	spec := func(id string) workerSpec {
		return workerSpec{ID: id, Redis: srv.Addr, Prefix: prefix, Remote: remote.URL(), Cache: filepath.Join(dir, id),
			Envs: envs, LeaseTTL: ttl, Deploys: deploys, Slots: len(envs)}
	}
	// One doomed worker per env, each dying at its step.
	doomed := make([]*worker, len(steps))
	for i, step := range steps {
		s := spec(fmt.Sprint("doomed-", i+1))
		s.Serve, s.DieAt = []string{envs[i]}, step
		doomed[i] = startWorker(t, s)
	}
	svc, st := submitter(t, srv.Client(t), prefix, envs)
	ids := make([]string, len(steps))
	for i := range steps {
		r, _, err := svc.Submit(t.Context(), workflow.ReleaseRequest{Ticket: fmt.Sprint("OPS-", i+1), Env: envs[i], User: workflow.User{ID: "U1"}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = r.ID
	}
	for i, w := range doomed {
		select {
		case <-w.done:
		case <-time.After(20 * time.Second):
			t.Fatalf("the worker meant to die at %s still runs", steps[i])
		}
		if ws, ok := w.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Errorf("the worker meant to die at %s ended with %v, want SIGKILL", steps[i], w.cmd.ProcessState)
		}
	}
	// No one can rescue a release before the rescuer runs: it starts once
	// every doomed worker is dead, which for the early steps is well after
	// their own death (the later ones go on to their steps first).
	rescuerStarted := time.Now()
	startWorker(t, spec("rescuer"))

	deployed := func() map[string]int {
		data, _ := os.ReadFile(deploys)
		n := map[string]int{}
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) == 3 {
				n[f[0]]++
			}
		}
		return n
	}
	for i, step := range steps {
		env := envs[i]
		r := waitFinal(t, st, ids[i], ttl+margin+5*time.Second)
		from := doomed[i].died
		if rescuerStarted.After(from) {
			from = rescuerStarted
		}
		after := r.UpdatedAt.Sub(from)
		t.Logf("killed at %-13s → %s %v after the kill or the rescuer's start, the later (the kill: %v)",
			step, r.State, after.Round(time.Millisecond), r.UpdatedAt.Sub(doomed[i].died).Round(time.Millisecond))
		if r.State != workflow.StateReleased {
			t.Errorf("killed at %s: %s (%s), want released; journal %v", step, r.State, r.Error, stepNames(r))
		}
		if after > ttl+margin {
			t.Errorf("killed at %s: final %v after the kill or the rescuer's start, want within the lease TTL %v + %v", step, after, ttl, margin)
		}
		if m := releaseMerges(t, remote, env); m[fmt.Sprint("OPS-", i+1)] != 1 {
			t.Errorf("killed at %s: release/%s merges %v, want OPS-%d once", step, env, m, i+1)
		}
		waitIdle(t, st, env, ttl+margin)
	}
	got := deployed()
	for i, step := range steps {
		want := 1
		if slices.Index(steps, step) > slices.Index(steps, workflow.StepDeploying) && step != workflow.StepAnnounced {
			want = 2 // deployed by the dead worker, then again
		} else if step == workflow.StepAnnounced {
			want = 1 // released before it was announced: nothing to redo
		}
		if got[envs[i]] != want {
			t.Errorf("killed at %s: %d deploys, want %d", step, got[envs[i]], want)
		}
	}
}
