package store_test

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/store/redistest"
)

var soak = flag.Bool("soak", false, "run TestSoakClusterFailover: 3 worker processes x 50 releases over 5 envs on a Redis Cluster with a primary failover")

// TestSoakClusterFailover is the load run (go test ./store -run
// TestSoakClusterFailover -soak -v): three worker processes run 50
// releases over 5 envs against a Redis Cluster of 3 primaries with a
// replica each, and the primary serving dev is killed (SIGKILL) halfway
// through the submissions; its replica takes over. It prints the counts:
// every release ends exactly once, each env keeps its order, no two jobs
// hold an env at once, and no lease is left held after the lease TTL.
func TestSoakClusterFailover(t *testing.T) {
	if !*soak {
		t.Skip("the soak run; run it with -soak")
	}
	gittest.RequireGit(t)
	const (
		n        = 50
		replicas = 3
		leaseTTL = 2 * time.Second
	)
	envs := []string{"dev", "qa", "stg", "uat", "demo"}
	began := time.Now()
	cl := redistest.DedicatedCluster(t, redistest.ClusterOptions{Primaries: 3, Replicas: 1, NodeTimeout: time.Second})
	clusterUp := time.Since(began)
	remote := infraRemote(t, n)
	dir := t.TempDir()
	prefix := redistest.Prefix(t)
	for i := range replicas {
		id := fmt.Sprint("r", i+1)
		startWorker(t, workerSpec{
			ID: id, Redis: "cluster:" + strings.Join(cl.Addrs(), ","), Sync: 1, Prefix: prefix, Remote: remote.URL(),
			Cache: filepath.Join(dir, id), Envs: envs, LeaseTTL: leaseTTL, Deploys: filepath.Join(dir, "deploys"), Slots: len(envs),
		})
	}
	svc, st := submitter(t, cl.Client(t), prefix, envs)

	start := time.Now()
	var (
		failover sync.WaitGroup
		killed   string
		promoted time.Duration
	)
	reqs := submitAll(t, svc, n, envs, func() {
		victim, err := cl.PrimaryOf(t.Context(), prefix+"{dev}:lease")
		if err != nil {
			t.Fatal(err)
		}
		killed = victim.Addr
		failover.Go(func() {
			at := time.Now()
			victim.Kill()
			// Promoted once dev's slot has a primary that takes writes.
			for time.Since(at) < 30*time.Second {
				if p, err := cl.PrimaryOf(t.Context(), prefix+"{dev}:lease"); err == nil && p != victim {
					if _, _, err := st.CurrentLease(t.Context(), "dev"); err == nil {
						promoted = time.Since(at)
						return
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Errorf("no replica took over from %s within 30s", victim.Addr)
		})
	})
	failover.Wait()
	c := checkRun(t, st, remote, reqs, envs, 90*time.Second)
	took := time.Since(start)

	time.Sleep(leaseTTL) // a lease of a job that ended must be gone by now
	stuck, queued := 0, 0
	for _, env := range envs {
		if l, held, err := st.CurrentLease(t.Context(), env); err != nil || held {
			stuck++
			t.Errorf("%s: lease %+v held (%v) a lease TTL after the last release ended", env, l, err)
		}
		if q, err := st.Queue(t.Context(), env); err != nil || len(q) > 0 {
			queued += len(q)
			t.Errorf("%s: %d left queued (%v)", env, len(q), err)
		}
	}
	fmt.Printf("soak: %d worker processes x %d releases over %d envs on a Redis Cluster (3 primaries + 3 replicas, up in %v)\n",
		replicas, n, len(envs), clusterUp.Round(time.Millisecond))
	fmt.Printf("soak: primary %s (dev's slot) SIGKILLed at release %d; its replica served dev after %v\n", killed, n/2, promoted.Round(time.Millisecond))
	attempts := 0
	for _, rq := range reqs {
		attempts += len(rq.ids)
	}
	fmt.Printf("soak: %d submit calls (%d refused while the store was unavailable, nothing recorded), %d recorded, %d released, %d failed with a reason\n",
		attempts, attempts-c.submissions, c.submissions, c.released, c.failed)
	fmt.Printf("soak: released exactly once %d/%d, merged once %d/%d, per-env order kept %d/%d envs, overlapping leases %d\n",
		c.exactlyOnce, n, c.mergedOnce, n, c.envsInOrder, len(envs), c.overlaps)
	fmt.Printf("soak: %d resumed after losing their lease; stuck leases after the TTL %d, left queued %d; all final %v after the first submission\n",
		c.resumed, stuck, queued, took.Round(time.Millisecond))
}
