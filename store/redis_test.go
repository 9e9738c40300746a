package store_test

import (
	"os"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/store/redistest"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// newRedis returns a store on the shared server under a key prefix of t's
// own.
func newRedis(t testing.TB) *store.Redis {
	t.Helper()
	srv := redistest.Shared(t)
	s, err := store.NewRedis(srv.Client(t), store.RedisOptions{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRedis(t *testing.T) {
	redistest.Shared(t)
	workflowtest.TestStore(t, func(t *testing.T) workflow.Store { return newRedis(t) })
}

// The conformance suite on a real 3-primary Redis Cluster: every method's
// keys share one hash slot, or the cluster refuses the script
// (CROSSSLOT).
func TestRedisCluster(t *testing.T) {
	start := time.Now()
	c := redistest.DedicatedCluster(t, redistest.ClusterOptions{})
	t.Logf("3-primary cluster up in %v", time.Since(start).Round(time.Millisecond))
	rdb := c.Client(t)
	workflowtest.TestStore(t, func(t *testing.T) workflow.Store {
		s, err := store.NewRedis(rdb, store.RedisOptions{Prefix: redistest.Prefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// The conformance suite through Sentinel: a primary, its replica and
// three sentinels, with passwords on both.
func TestRedisSentinel(t *testing.T) {
	start := time.Now()
	st := redistest.DedicatedSentinel(t, redistest.SentinelOptions{Password: "data-pw", SentinelPassword: "sentinel-pw"})
	t.Logf("primary + replica + 3 sentinels up in %v", time.Since(start).Round(time.Millisecond))
	rdb := st.Client(t)
	workflowtest.TestStore(t, func(t *testing.T) workflow.Store {
		s, err := store.NewRedis(rdb, store.RedisOptions{Prefix: redistest.Prefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
