package workflow_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/store/redistest"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

// startWorkers runs n workers of w's service until the test ends.
func (w *world) startWorkers(t *testing.T, n int, cfg workflow.WorkerConfig) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		c := cfg
		c.ID = fmt.Sprint("w", i)
		wk, err := w.svc.NewWorker(c)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { wk.Run(ctx) })
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// waitFinal waits until release id is in a final state.
func (w *world) waitFinal(t *testing.T, id string, within time.Duration) workflow.Release {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r, err := w.svc.GetRelease(t.Context(), id)
		if err == nil && r.State.Final() {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("release %s not final after %v: %+v, %v", id, within, r, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func fastJobs(c *workflow.Config, _ *workflow.Deps) {
	c.LeaseTTL = 150 * time.Millisecond
	c.PollInterval = 5 * time.Millisecond
}

func TestWorkersRunSubmittedJobsInOrder(t *testing.T) {
	w := newWorld(t, fastJobs)
	for i := 1; i <= 6; i++ {
		w.repo.Commit(fmt.Sprint("OPS-", i), "change", map[string]string{fmt.Sprint("f", i, ".yml"): "x\n"})
	}
	var ids []string
	for i := 1; i <= 6; i++ {
		env, u := "dev", ana
		if i%3 == 0 {
			env, u = "stg", cy
		}
		r, pos, err := w.svc.Submit(t.Context(), workflow.ReleaseRequest{Ticket: fmt.Sprint("OPS-", i), Env: env, User: u})
		if err != nil {
			t.Fatal(err)
		}
		if r.State != workflow.StateQueued || pos < 1 {
			t.Errorf("Submit(OPS-%d) = %s at %d, want queued with a position", i, r.State, pos)
		}
		ids = append(ids, r.ID)
	}
	// A redelivered submit finds the same release.
	if r, _, err := w.svc.Submit(t.Context(), workflow.ReleaseRequest{ID: ids[0], Ticket: "OPS-1", Env: "dev", User: ana}); err != nil || r.ID != ids[0] {
		t.Errorf("resubmit = %s, %v; want %s", r.ID, err, ids[0])
	}
	w.startWorkers(t, 2, workflow.WorkerConfig{Slots: 2})
	fences := map[string][]int64{}
	for _, id := range ids {
		r := w.waitFinal(t, id, 5*time.Second)
		if r.State != workflow.StateReleased {
			t.Errorf("%s: %s (%s), want released", id, r.State, r.Error)
		}
		fences[r.Env] = append(fences[r.Env], leasedFence(t, r))
	}
	for env, fs := range fences {
		if !slices.IsSorted(fs) {
			t.Errorf("%s ran its jobs with fences %v, want the submission order", env, fs)
		}
	}
	if got := len(w.repo.Pushes()); got != 6 {
		t.Errorf("%d pushes, want 6", got)
	}
	// A job leaves the queue and gives the lease back just after its
	// record is final.
	w.waitIdle(t, "dev", time.Second)
	w.waitIdle(t, "stg", time.Second)
}

// waitIdle waits until env's lease is free and its queue empty.
func (w *world) waitIdle(t *testing.T, env string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		_, held, err1 := w.store.CurrentLease(t.Context(), env)
		q, err2 := w.store.Queue(t.Context(), env)
		if err1 == nil && err2 == nil && !held && len(q) == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.checkIdle(t, env)
}

// leasedFence returns the fence of a release's first leased step.
func leasedFence(t *testing.T, r workflow.Release) int64 {
	t.Helper()
	for _, s := range r.Steps {
		if s.Name == workflow.StepLeased {
			var f int64
			if _, err := fmt.Sscanf(s.Detail, "fence %d", &f); err != nil {
				t.Fatalf("leased step %q: %v", s.Detail, err)
			}
			return f
		}
	}
	t.Fatalf("%s has no leased step: %v", r.ID, stepNames(r))
	return 0
}

// dieAt is a Notifier whose worker goroutine exits, as if its process died,
// right after the journal step named step (the first time only): no
// deferred bookkeeping of the workflow runs and the lease is left to
// expire.
type dieAt struct {
	workflow.Notifier
	step string
	once sync.Once
}

func (d *dieAt) Progress(ctx context.Context, r workflow.Release, s workflow.Step) error {
	if s.Name == d.step {
		die := false
		d.once.Do(func() { die = true })
		if die {
			runtime.Goexit()
		}
	}
	return d.Notifier.Progress(ctx, r, s)
}

func TestWorkerResumesAJobWhoseWorkerDied(t *testing.T) {
	steps := []string{
		workflow.StepLeased, workflow.StepFetched, workflow.StepResolved, workflow.StepChecked,
		workflow.StepCreated, workflow.StepMerged, workflow.StepPushed, workflow.StepOccupied,
		workflow.StepDeploying, "stack app-dev", workflow.StepDeployed, workflow.StepAnnounced,
	}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			var d *dieAt
			w := newWorld(t, fastJobs, func(_ *workflow.Config, deps *workflow.Deps) {
				d = &dieAt{Notifier: deps.Notifier, step: step}
				deps.Notifier = d
			})
			w.repo.Commit("OPS-1", "OPS-1 vpc", map[string]string{"vpc.yml": "cidr: 10.1\n"})
			r, _, err := w.svc.Submit(t.Context(), workflow.ReleaseRequest{Ticket: "OPS-1", Env: "dev", User: ana})
			if err != nil {
				t.Fatal(err)
			}
			w.startWorkers(t, 1, workflow.WorkerConfig{})
			got := w.waitFinal(t, r.ID, 3*time.Second)
			if got.State != workflow.StateReleased {
				t.Fatalf("state %s (%s), want released; journal %v", got.State, got.Error, stepNames(got))
			}
			if step == workflow.StepAnnounced {
				// Released before it was announced: the next worker only
				// clears the queue and the lease once the lease expires.
				w.waitIdle(t, "dev", 2*time.Second)
				return
			}
			if !slices.Contains(stepNames(got), workflow.StepResumed) {
				t.Errorf("journal %v: want a resumed step", stepNames(got))
			}
			if p := w.repo.Pushes(); len(p) != 1 {
				t.Errorf("pushes %v: want release/dev pushed once", p)
			}
			deploys := len(w.deployer.Deploys())
			wantDeploys := 1
			if slices.Index(steps, step) > slices.Index(steps, workflow.StepDeploying) {
				wantDeploys = 2 // the dead worker deployed; the deploy is re-run
			}
			if deploys != wantDeploys {
				t.Errorf("%d deploys, want %d", deploys, wantDeploys)
			}
			if occ := w.occupants(t, "dev"); !slices.Equal(occ, []workflow.TicketKey{"OPS-1"}) {
				t.Errorf("dev's occupants %v, want OPS-1", occ)
			}
			w.waitIdle(t, "dev", 2*time.Second)
		})
	}
}

func TestWorkerGivesUpAfterMaxAttempts(t *testing.T) {
	var d *dieForever
	w := newWorld(t, fastJobs, func(_ *workflow.Config, deps *workflow.Deps) {
		d = &dieForever{Notifier: deps.Notifier}
		deps.Notifier = d
	})
	w.repo.Commit("OPS-1", "OPS-1 vpc", map[string]string{"vpc.yml": "cidr: 10.1\n"})
	r, _, err := w.svc.Submit(t.Context(), workflow.ReleaseRequest{Ticket: "OPS-1", Env: "dev", User: ana})
	if err != nil {
		t.Fatal(err)
	}
	w.startWorkers(t, 1, workflow.WorkerConfig{MaxAttempts: 2})
	got := w.waitFinal(t, r.ID, 3*time.Second)
	if got.State != workflow.StateFailed || got.Error == "" {
		t.Errorf("state %s (%q), want failed with a reason", got.State, got.Error)
	}
	if n := len(w.notes.Notes("failed")); n != 1 {
		t.Errorf("%d failure notices, want 1", n)
	}
	w.waitIdle(t, "dev", time.Second)
}

// dieForever dies at every fetch.
type dieForever struct{ workflow.Notifier }

func (d *dieForever) Progress(ctx context.Context, r workflow.Release, s workflow.Step) error {
	if s.Name == workflow.StepFetched {
		runtime.Goexit()
	}
	return d.Notifier.Progress(ctx, r, s)
}

func TestWorkerShutdownHandsOffTheJob(t *testing.T) {
	w := newWorld(t, fastJobs)
	w.repo.Commit("OPS-1", "OPS-1 vpc", map[string]string{"vpc.yml": "cidr: 10.1\n"})
	block := &blockingDeployer{Deployer: w.deployer, started: make(chan struct{})}
	w.deps.Deployer = block
	svc, err := workflow.NewService(nil, workflow.Config{Envs: []workflow.Env{{Name: "dev"}}, LeaseTTL: time.Second, PollInterval: 5 * time.Millisecond}, w.deps)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := svc.Submit(t.Context(), workflow.ReleaseRequest{Ticket: "OPS-1", Env: "dev", User: ana})
	if err != nil {
		t.Fatal(err)
	}
	wk, err := svc.NewWorker(workflow.WorkerConfig{ID: "a", DrainTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { wk.Run(ctx); close(done) }()
	<-block.started
	stop()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after its drain timeout")
	}
	rec, err := svc.GetRelease(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != workflow.StateQueued || !slices.Contains(stepNames(rec), workflow.StepHandedOff) {
		t.Errorf("after shutdown: %s, journal %v; want queued again and handed off", rec.State, stepNames(rec))
	}
	if _, ok, _ := w.store.CurrentLease(t.Context(), "dev"); ok {
		t.Error("lease still held after the hand-off")
	}

	// Another worker finishes it at once.
	close(block.release)
	wk2, _ := svc.NewWorker(workflow.WorkerConfig{ID: "b"})
	ctx2, stop2 := context.WithCancel(t.Context())
	defer stop2()
	go wk2.Run(ctx2)
	deadline := time.Now().Add(2 * time.Second)
	for rec.State != workflow.StateReleased && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		rec, _ = svc.GetRelease(t.Context(), r.ID)
	}
	if rec.State != workflow.StateReleased {
		t.Fatalf("state %s (%s), want released by the second worker", rec.State, rec.Error)
	}
	if p := w.repo.Pushes(); len(p) != 1 {
		t.Errorf("pushes %v: want one", p)
	}
}

// blockingDeployer blocks deploys until release is closed or ctx ends.
type blockingDeployer struct {
	workflow.Deployer
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingDeployer) Deploy(ctx context.Context, env workflow.Env, sha string, p workflow.Progress) (workflow.DeployResult, error) {
	b.once.Do(func() { b.release = make(chan struct{}); close(b.started) })
	select {
	case <-ctx.Done():
		return workflow.DeployResult{}, ctx.Err()
	case <-b.release:
	}
	return b.Deployer.Deploy(ctx, env, sha, p)
}

// TestCancelRacesWorkerStart: rounds of a cancel racing the worker that
// starts the job, on a real Redis. One transition wins each round: the
// release ends cancelled and never pushed, or released and never
// cancelled, and the env is free for the next round.
func TestCancelRacesWorkerStart(t *testing.T) {
	srv := redistest.Dedicated(t, redistest.Options{})
	st, err := store.NewRedis(srv.Client(t), store.RedisOptions{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, func(c *workflow.Config, d *workflow.Deps) {
		c.LeaseTTL = time.Second
		c.PollInterval = time.Millisecond
		d.Store = st
	})
	w.startWorkers(t, 2, workflow.WorkerConfig{})
	ctx := t.Context()
	const rounds = 40
	outcomes := map[workflow.ReleaseState]int{}
	for round := range rounds {
		w.repo.Commit("OPS-1", fmt.Sprint("OPS-1 round ", round), map[string]string{fmt.Sprint("r", round, ".yml"): "x\n"})
		r, _, err := w.svc.Submit(ctx, workflow.ReleaseRequest{Ticket: "OPS-1", Env: "dev", User: ana})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(round%8) * 250 * time.Microsecond)
		n, cerr := w.svc.Cancel(ctx, "OPS-1", "dev", ana)
		got := w.waitFinal(t, r.ID, 5*time.Second)
		outcomes[got.State]++
		pushed := slices.ContainsFunc(w.repo.Pushes(), func(p workflowtest.Push) bool {
			return strings.Contains(w.repo.Message(p.New), r.ID)
		})
		switch got.State {
		case workflow.StateCancelled:
			if cerr != nil || n != 1 {
				t.Errorf("%s cancelled, but Cancel = %d, %v", r.ID, n, cerr)
			}
			if pushed || got.PushedSHA != "" || slices.Contains(stepNames(got), workflow.StepLeased) {
				t.Errorf("%s cancelled, but it started (pushed %v, journal %v)", r.ID, pushed, stepNames(got))
			}
		case workflow.StateReleased:
			if cerr == nil || (workflow.KindOf(cerr) != workflow.Busy && workflow.KindOf(cerr) != workflow.NotFound) {
				t.Errorf("%s released, but Cancel = %d, %v; want it refused", r.ID, n, cerr)
			}
			if got.Error != "" || !pushed {
				t.Errorf("%s released with error %q, pushed %v; want no error, pushed", r.ID, got.Error, pushed)
			}
		default:
			t.Errorf("%s ended %s (%s), want cancelled or released; journal %v", r.ID, got.State, got.Error, stepNames(got))
		}
		// The record stays as it ended, and dev is free.
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, held, err1 := st.CurrentLease(ctx, "dev")
			q, err2 := st.Queue(ctx, "dev")
			if err1 == nil && err2 == nil && !held && len(q) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: dev not free: lease held %v (%v), queue %v (%v)", round, held, err1, q, err2)
			}
			time.Sleep(2 * time.Millisecond)
		}
		if again, err := w.svc.GetRelease(ctx, r.ID); err != nil || again.State != got.State || again.Error != got.Error {
			t.Errorf("%s: %s (%q) once final, then %s (%q), %v", r.ID, got.State, got.Error, again.State, again.Error, err)
		}
	}
	t.Logf("outcomes of %d rounds: %v", rounds, outcomes)
}
