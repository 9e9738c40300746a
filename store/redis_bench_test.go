package store_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// latencies collects per-operation latencies of a parallel benchmark and
// reports throughput and percentiles.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, elapsed time.Duration) {
	if len(l.all) == 0 {
		return
	}
	slices.Sort(l.all)
	p := func(q float64) time.Duration { return l.all[int(q*float64(len(l.all)-1))] }
	b.ReportMetric(float64(len(l.all))/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(p(0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(p(0.99).Microseconds()), "p99-µs")
}

// benchParallel runs op (one store operation) from parallel goroutines,
// each with a worker number of its own, and reports the latencies.
func benchParallel(b *testing.B, op func(worker int, i int) error) {
	var lat latencies
	var workers atomic.Int64
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		w := int(workers.Add(1))
		var mine []time.Duration
		for i := 0; pb.Next(); i++ {
			t0 := time.Now()
			if err := op(w, i); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		lat.add(mine)
	})
	lat.report(b, time.Since(start))
}

// BenchmarkRedisLease: acquire then release a lease, each parallel worker
// on an env of its own (every acquisition succeeds); an operation is the
// pair.
func BenchmarkRedisLease(b *testing.B) {
	s := newRedis(b)
	ctx := b.Context()
	benchParallel(b, func(w, i int) error {
		env := fmt.Sprint("env", w)
		token := fmt.Sprint("t", w, "-", i)
		if _, ok, err := s.AcquireLease(ctx, env, workflow.Lease{Token: token}, time.Minute); err != nil || !ok {
			return fmt.Errorf("acquire %s: %v %v", env, ok, err)
		}
		_, err := s.ReleaseLease(ctx, env, token)
		return err
	})
}

// BenchmarkRedisLeaseContended: every worker tries to take one env's
// lease and gives it back when it got it; an operation is an attempt.
func BenchmarkRedisLeaseContended(b *testing.B) {
	s := newRedis(b)
	ctx := b.Context()
	benchParallel(b, func(w, i int) error {
		token := fmt.Sprint("t", w, "-", i)
		if _, ok, err := s.AcquireLease(ctx, "dev", workflow.Lease{Token: token}, time.Minute); err != nil || !ok {
			return err
		}
		_, err := s.ReleaseLease(ctx, "dev", token)
		return err
	})
}

// BenchmarkRedisQueue: enqueue then dequeue, each parallel worker on an
// env of its own; an operation is the pair.
func BenchmarkRedisQueue(b *testing.B) {
	s := newRedis(b)
	ctx := b.Context()
	benchParallel(b, func(w, i int) error {
		env := fmt.Sprint("env", w)
		if _, err := s.Enqueue(ctx, env, workflow.QueueEntry{ID: fmt.Sprint(i), Ticket: "OPS-1", By: "U1", Job: true}, time.Minute); err != nil {
			return err
		}
		_, ok, err := s.Dequeue(ctx, env)
		if err == nil && !ok {
			err = fmt.Errorf("dequeue %s: empty", env)
		}
		return err
	})
}

// BenchmarkRedisQueueDeep: enqueue, position and remove on one env whose
// queue holds 100 waiting entries (the scripts' purge and rank at depth);
// an operation is the three.
func BenchmarkRedisQueueDeep(b *testing.B) {
	s := newRedis(b)
	ctx := b.Context()
	for i := range 100 {
		if _, err := s.Enqueue(ctx, "dev", workflow.QueueEntry{ID: fmt.Sprint("wait-", i)}, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	benchParallel(b, func(w, i int) error {
		_, err := s.Enqueue(ctx, "dev", workflow.QueueEntry{ID: fmt.Sprint(w, "-", i)}, time.Minute)
		if err != nil {
			return err
		}
		if _, err = s.QueuePosition(ctx, "dev", fmt.Sprint(w, "-", i)); err != nil {
			return err
		}
		_, err = s.RemoveQueued(ctx, "dev", fmt.Sprint(w, "-", i))
		return err
	})
}
