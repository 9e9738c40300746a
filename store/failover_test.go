package store_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/store/redistest"
	"github.com/code-releaser/code-releaser/workflow"
)

// replicaAcked returns the primary's replication offset and the offset
// its replica acknowledged, from the primary's INFO replication.
func replicaAcked(t *testing.T, primary *redis.Client) (master, acked int64) {
	t.Helper()
	info, err := primary.Info(t.Context(), "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "master_repl_offset:"); ok {
			master, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "slave0:"); ok {
			for _, f := range strings.Split(v, ",") {
				if o, ok := strings.CutPrefix(f, "offset="); ok {
					acked, _ = strconv.ParseInt(o, 10, 64)
				}
			}
		}
	}
	return master, acked
}

// Asynchronous replication: a primary killed right after a write can take
// it with it. With SyncReplicas a lease is on the replica when
// AcquireLease returns, even while the replica is slow (DEBUG SLEEP), and
// so it survives the primary's death: the promoted replica has it, with
// its fence, and nobody else can take the env. Without SyncReplicas the
// lease returns before the replica has it.
func TestLeaseReachesTheReplicaBeforeItIsTaken(t *testing.T) {
	st := redistest.DedicatedSentinel(t, redistest.SentinelOptions{DownAfter: 500 * time.Millisecond})
	ctx := t.Context()
	primary := redis.NewClient(&redis.Options{Addr: st.Data[0].Addr})
	defer primary.Close()
	replica := redis.NewClient(&redis.Options{Addr: st.Data[1].Addr})
	defer replica.Close()
	for _, sync := range []int{0, 1} {
		prefix := redistest.Prefix(t)
		s, err := store.NewRedis(st.Client(t), store.RedisOptions{Prefix: prefix, SyncReplicas: sync, SyncTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		slept := make(chan error, 1)
		go func() { slept <- replica.Do(ctx, "DEBUG", "SLEEP", "0.5").Err() }()
		time.Sleep(100 * time.Millisecond) // the replica is asleep
		start := time.Now()
		l, ok, err := s.AcquireLease(ctx, "dev", workflow.Lease{Token: fmt.Sprint("sync-", sync)}, time.Minute)
		took := time.Since(start)
		if err != nil || !ok {
			t.Fatalf("SyncReplicas %d: AcquireLease: %v, %v", sync, ok, err)
		}
		master, acked := replicaAcked(t, primary)
		t.Logf("SyncReplicas %d: lease (fence %d) taken in %v; primary at offset %d, replica acked %d", sync, l.Fence, took.Round(time.Millisecond), master, acked)
		if sync == 0 {
			// The replica sleeps: it cannot have acknowledged the write.
			if acked >= master {
				t.Errorf("SyncReplicas 0: the replica acknowledged offset %d of %d while asleep; the test holds nothing back", acked, master)
			}
			if err := <-slept; err != nil {
				t.Fatal(err)
			}
			continue
		}
		// WAIT returned once the replica acknowledged the write: it has
		// the lease (the sentinels' hello messages move the primary's
		// offset on, so offsets are not compared here).
		if n, err := replica.Exists(ctx, prefix+"{dev}:lease").Result(); err != nil || n != 1 {
			t.Errorf("SyncReplicas 1: the replica has the lease when AcquireLease returns: %d, %v; want it there", n, err)
		}
		if err := <-slept; err != nil {
			t.Fatal(err)
		}
		// The primary dies; the replica it waited for takes over with
		// the lease.
		st.Data[0].Kill()
		if _, err := st.WaitFailover(ctx, st.Data[0], 30*time.Second); err != nil {
			t.Fatal(err)
		}
		var cur workflow.Lease
		var held bool
		deadline := time.Now().Add(10 * time.Second)
		for {
			cur, held, err = s.CurrentLease(ctx, "dev")
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil || !held || cur.Token != l.Token || cur.Fence != l.Fence {
			t.Errorf("after the failover: lease %+v, held %v, %v; want %s's, fence %d", cur, held, err, l.Token, l.Fence)
		}
		if other, ok, err := s.AcquireLease(ctx, "dev", workflow.Lease{Token: "other"}, time.Minute); err != nil || ok {
			t.Errorf("another worker after the failover: got %+v, %v, %v; want refused", other, ok, err)
		}
	}
}
