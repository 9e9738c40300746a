package workflow_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// awayStore is a Store that is unavailable for some calls, as Redis is
// during a failover or a restart.
type awayStore struct {
	workflow.Store
	leaseAway atomic.Int32 // CurrentLease fails this many more times
	finalAway atomic.Int32 // writing a final state fails this many more times
}

var errAway = workflow.Errorf("store", workflow.Unavailable, "the state store is unavailable")

func (s *awayStore) CurrentLease(ctx context.Context, env string) (workflow.Lease, bool, error) {
	if s.leaseAway.Add(-1) >= 0 {
		return workflow.Lease{}, false, errAway
	}
	return s.Store.CurrentLease(ctx, env)
}

func (s *awayStore) UpdateRelease(ctx context.Context, id string, u workflow.ReleaseUpdate) error {
	if u.State.Final() && s.finalAway.Add(-1) >= 0 {
		return errAway
	}
	return s.Store.UpdateRelease(ctx, id, u)
}

// A store that is away for a moment fails no release: the lease check
// before the push waits for it while the lease is alive, and a final
// state the store did not take leaves the job queued for the next holder
// of the lease, which resumes it, instead of a record that never ends.
func TestJobOutlivesAStoreThatIsAway(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		leaseAway, finalAway int32
		resumed              bool
		deploys              int
	}{
		{"lease check", 4, 0, false, 1},
		{"final state", 0, 1, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var st *awayStore
			w := newWorld(t, fastJobs, func(_ *workflow.Config, deps *workflow.Deps) {
				st = &awayStore{Store: deps.Store}
				deps.Store = st
			})
			w.repo.Commit("OPS-1", "OPS-1 vpc", map[string]string{"vpc.yml": "cidr: 10.1\n"})
			r, _, err := w.svc.Submit(t.Context(), workflow.ReleaseRequest{Ticket: "OPS-1", Env: "dev", User: ana})
			if err != nil {
				t.Fatal(err)
			}
			st.leaseAway.Store(tc.leaseAway)
			st.finalAway.Store(tc.finalAway)
			w.startWorkers(t, 1, workflow.WorkerConfig{})
			got := w.waitFinal(t, r.ID, 3*time.Second)
			if got.State != workflow.StateReleased {
				t.Fatalf("state %s (%s), want released; journal %v", got.State, got.Error, stepNames(got))
			}
			if st.leaseAway.Load() > 0 || st.finalAway.Load() > 0 {
				t.Fatalf("the store was not away as the test wanted: %d, %d calls left", st.leaseAway.Load(), st.finalAway.Load())
			}
			if resumed := slices.Contains(stepNames(got), workflow.StepResumed); resumed != tc.resumed {
				t.Errorf("journal %v: resumed %v, want %v", stepNames(got), resumed, tc.resumed)
			}
			if p := w.repo.Pushes(); len(p) != 1 {
				t.Errorf("pushes %v: want release/dev pushed once", p)
			}
			if d := len(w.deployer.Deploys()); d != tc.deploys {
				t.Errorf("%d deploys, want %d", d, tc.deploys)
			}
			w.waitIdle(t, "dev", 2*time.Second)
		})
	}
}
