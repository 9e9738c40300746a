package store_test

import (
	"fmt"
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
	t.Run("Store", func(t *testing.T) {
		workflowtest.TestStore(t, func(t *testing.T) workflow.Store {
			s, err := store.NewRedis(rdb, store.RedisOptions{Prefix: redistest.Prefix(t), SyncReplicas: 1, EpochEnvs: []string{"dev", "stg", "qa"}})
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
	t.Run("EpochNoticesAShardLoss", func(t *testing.T) { testEpochShardLoss(t, c) })
}

// testEpochShardLoss: one primary of the cluster loses its data
// (FLUSHALL), not the one holding the epoch key. A store watching the envs
// (EpochEnvs) sees a new epoch, once, as a process would after a reset; a
// store that watches only the epoch key does not.
func testEpochShardLoss(t *testing.T, c *redistest.Cluster) {
	ctx := t.Context()
	prefix := redistest.Prefix(t)
	home, err := c.PrimaryOf(ctx, prefix+"epoch")
	if err != nil {
		t.Fatal(err)
	}
	var envs []string
	var victim *redistest.Server
	for i := 0; victim == nil || len(envs) < 4; i++ {
		env := fmt.Sprint("env", i)
		envs = append(envs, env)
		p, err := c.PrimaryOf(ctx, prefix+"{"+env+"}:lease")
		if err != nil {
			t.Fatal(err)
		}
		if p != home && victim == nil {
			victim = p
		}
	}
	watching, err := store.NewRedis(c.Client(t), store.RedisOptions{Prefix: prefix, EpochEnvs: envs})
	if err != nil {
		t.Fatal(err)
	}
	blind, err := store.NewRedis(c.Client(t), store.RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	first, created, err := watching.Epoch(ctx)
	if err != nil || !created {
		t.Fatalf("first Epoch: %q, %v, %v; want created", first, created, err)
	}
	if e, created, err := watching.Epoch(ctx); e != first || created || err != nil {
		t.Fatalf("second Epoch: %q, %v, %v; want %q unchanged", e, created, err, first)
	}
	if err := victim.Client(t).FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if e, created, err := blind.Epoch(ctx); e != first || created || err != nil {
		t.Errorf("Epoch without EpochEnvs after the shard loss: %q, %v, %v; want it unchanged (the gap EpochEnvs closes)", e, created, err)
	}
	after, created, err := watching.Epoch(ctx)
	if err != nil || after == first || !created {
		t.Errorf("Epoch after a shard lost its data: %q (was %q), created %v, %v; want a new epoch, created", after, first, created, err)
	}
	if e, created, err := watching.Epoch(ctx); e != after || created || err != nil {
		t.Errorf("Epoch later: %q, %v, %v; want %q unchanged", e, created, err, after)
	}
}

// The conformance suite through Sentinel: a primary, its replica and
// three sentinels, with passwords on both.
func TestRedisSentinel(t *testing.T) {
	start := time.Now()
	st := redistest.DedicatedSentinel(t, redistest.SentinelOptions{Password: "data-pw", SentinelPassword: "sentinel-pw", NoFailover: true})
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
