package workflowtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
	"github.com/google/go-cmp/cmp"
)

// TestStore runs the conformance suite of workflow.Store against stores
// made by newStore, one per subtest. The stores must use the wall clock:
// expiry is checked with short real sleeps (TTLs of tens of milliseconds).
func TestStore(t *testing.T, newStore func(t *testing.T) workflow.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s workflow.Store)
	}{
		{"LeaseExclusive", testLeaseExclusive},
		{"LeaseFenceIncreases", testLeaseFence},
		{"LeaseOwnerOnly", testLeaseOwnerOnly},
		{"LeaseExpiry", testLeaseExpiry},
		{"FencedWrites", testFencedWrites},
		{"QueueFIFO", testQueueFIFO},
		{"QueueConcurrent", testQueueConcurrent},
		{"QueueExpiry", testQueueExpiry},
		{"Hold", testHold},
		{"Releases", testReleases},
		{"ReleaseStateCAS", testReleaseStateCAS},
		{"JournalOrder", testJournalOrder},
		{"AuditCap", testAuditCap},
		{"Claim", testClaim},
		{"Approvals", testApprovals},
		{"ApprovalVotesConcurrent", testApprovalVotesConcurrent},
		{"MessageRefs", testMessageRefs},
		{"Epoch", testEpoch},
		{"Tenures", testTenures},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newStore(t))
		})
	}
}

// must adapts a (value, error) result for tests.
func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func acquire(t *testing.T, s workflow.Store, env, token string, ttl time.Duration) workflow.Lease {
	t.Helper()
	l, ok, err := s.AcquireLease(t.Context(), env, workflow.Lease{Token: token, ReleaseID: token}, ttl)
	if err != nil {
		t.Fatalf("AcquireLease(%s, %s): %v", env, token, err)
	}
	if !ok {
		t.Fatalf("AcquireLease(%s, %s): held by %s, want acquired", env, token, l.Token)
	}
	return l
}

func testLeaseExclusive(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	const n = 32
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		won    []string
		seenBy = map[string]int{}
	)
	for i := range n {
		wg.Go(func() {
			token := fmt.Sprintf("owner-%d", i)
			l, ok, err := s.AcquireLease(ctx, "dev", workflow.Lease{Token: token}, time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if ok {
				won = append(won, token)
				if l.Token != token || l.Env != "dev" || l.Fence <= 0 {
					t.Errorf("acquired lease = %+v, want token %s, env dev, positive fence", l, token)
				}
			}
			seenBy[l.Token]++
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d owners acquired the lease concurrently (%v), want exactly 1", len(won), won)
	}
	if seenBy[won[0]] != n {
		t.Errorf("callers saw holders %v, want all %d to see %s", seenBy, n, won[0])
	}
	cur, ok := must2[workflow.Lease](t)(s.CurrentLease(ctx, "dev"))
	if !ok || cur.Token != won[0] {
		t.Errorf("CurrentLease = %+v, %v; want held by %s", cur, ok, won[0])
	}
	// Another env is independent.
	acquire(t, s, "stg", "other", time.Minute)
}

// must2 adapts a (value, bool, error) result for tests.
func must2[T any](t *testing.T) func(T, bool, error) (T, bool) {
	return func(v T, ok bool, err error) (T, bool) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v, ok
	}
}

func testLeaseFence(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	var last int64
	for i := range 5 {
		token := fmt.Sprintf("t%d", i)
		l := acquire(t, s, "dev", token, time.Minute)
		if l.Fence <= last {
			t.Errorf("acquisition %d: fence %d, want > %d", i, l.Fence, last)
		}
		last = l.Fence
		if again, ok := must2[workflow.Lease](t)(s.AcquireLease(ctx, "dev", workflow.Lease{Token: token}, time.Minute)); !ok || again.Fence != l.Fence {
			t.Errorf("re-acquire by the holder = %+v, %v; want the same lease (fence %d)", again, ok, l.Fence)
		}
		if ok := must[bool](t)(s.ReleaseLease(ctx, "dev", token)); !ok {
			t.Fatalf("ReleaseLease by owner %s = false, want true", token)
		}
	}
	// Expiry does not reset the sequence.
	acquire(t, s, "dev", "short", 30*time.Millisecond)
	time.Sleep(80 * time.Millisecond)
	if l := acquire(t, s, "dev", "after-expiry", time.Minute); l.Fence <= last {
		t.Errorf("fence after expiry = %d, want > %d", l.Fence, last)
	}
}

func testLeaseOwnerOnly(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	l := acquire(t, s, "dev", "owner", time.Second)
	if _, ok := must2[workflow.Lease](t)(s.AcquireLease(ctx, "dev", workflow.Lease{Token: "thief"}, time.Minute)); ok {
		t.Fatal("another token acquired a held lease")
	}
	if _, err := s.RenewLease(ctx, "dev", "thief", time.Minute); !errors.Is(err, workflow.ErrLeaseLost) {
		t.Errorf("RenewLease by a stranger: err = %v, want ErrLeaseLost", err)
	}
	if ok := must[bool](t)(s.ReleaseLease(ctx, "dev", "thief")); ok {
		t.Error("ReleaseLease by a stranger = true, want false")
	}
	if cur, ok := must2[workflow.Lease](t)(s.CurrentLease(ctx, "dev")); !ok || cur.Token != "owner" {
		t.Fatalf("after a stranger's attempts the lease is %+v, %v; want still owner's", cur, ok)
	}
	renewed := must[workflow.Lease](t)(s.RenewLease(ctx, "dev", "owner", time.Hour))
	if !renewed.Expires.After(l.Expires) || renewed.Fence != l.Fence {
		t.Errorf("renewed = %+v, want same fence %d and expiry after %v", renewed, l.Fence, l.Expires)
	}
	if ok := must[bool](t)(s.ReleaseLease(ctx, "dev", "owner")); !ok {
		t.Error("ReleaseLease by owner = false, want true")
	}
	if _, ok := must2[workflow.Lease](t)(s.CurrentLease(ctx, "dev")); ok {
		t.Error("lease still held after release")
	}
	if _, err := s.RenewLease(ctx, "dev", "owner", time.Minute); !errors.Is(err, workflow.ErrLeaseLost) {
		t.Errorf("RenewLease after release: err = %v, want ErrLeaseLost", err)
	}
	if ok := must[bool](t)(s.ReleaseLease(ctx, "dev", "owner")); ok {
		t.Error("second ReleaseLease = true, want false")
	}
}

func testLeaseExpiry(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	old := acquire(t, s, "dev", "sleepy", 40*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	if _, ok := must2[workflow.Lease](t)(s.CurrentLease(ctx, "dev")); ok {
		t.Error("expired lease still current")
	}
	l := acquire(t, s, "dev", "next", time.Minute)
	if l.Fence <= old.Fence {
		t.Errorf("fence after expiry %d, want > %d", l.Fence, old.Fence)
	}
	if _, err := s.RenewLease(ctx, "dev", "sleepy", time.Minute); !errors.Is(err, workflow.ErrLeaseLost) {
		t.Errorf("RenewLease by the expired owner: err = %v, want ErrLeaseLost", err)
	}
	if ok := must[bool](t)(s.ReleaseLease(ctx, "dev", "sleepy")); ok {
		t.Error("ReleaseLease by the expired owner = true, want false")
	}
	if cur, ok := must2[workflow.Lease](t)(s.CurrentLease(ctx, "dev")); !ok || cur.Token != "next" {
		t.Errorf("lease = %+v, %v; want next's", cur, ok)
	}
}

func testFencedWrites(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	old := acquire(t, s, "dev", "old", time.Minute)
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	occ := []workflow.Occupant{
		{Ticket: "OPS-1", Branch: "OPS-1", TicketSHA: "a1", MergeSHA: "m1", By: "U1", At: at, ReleaseID: "r1"},
		{Ticket: "OPS-2", Branch: "feature/OPS-2-x", TicketSHA: "a2", MergeSHA: "m2", By: "U2", At: at.Add(time.Minute), ReleaseID: "r2"},
	}
	if err := s.SetOccupants(ctx, old, occ); err != nil {
		t.Fatal(err)
	}
	if got := must[[]workflow.Occupant](t)(s.Occupants(ctx, "dev")); !cmp.Equal(got, occ) {
		t.Errorf("Occupants mismatch (-got +want):\n%s", cmp.Diff(got, occ))
	}
	dep := workflow.Deployment{ReleaseID: "r2", Ticket: "OPS-2", By: "U2", At: at,
		Result: workflow.DeployResult{SHA: "m2", Status: workflow.DeploySucceeded, Summary: "2 stacks",
			Stacks: []workflow.StackResult{{Name: "net", Status: "UPDATE_COMPLETE"}}}}
	if err := s.SetLastDeploy(ctx, old, dep); err != nil {
		t.Fatal(err)
	}
	dep.Env = "dev"
	if got, ok := must2[workflow.Deployment](t)(s.LastDeploy(ctx, "dev")); !ok || !cmp.Equal(got, dep) {
		t.Errorf("LastDeploy = %v (-got +want):\n%s", ok, cmp.Diff(got, dep))
	}
	if _, ok := must2[workflow.Deployment](t)(s.LastDeploy(ctx, "stg")); ok {
		t.Error("stg has a last deploy, want none")
	}

	must[bool](t)(s.ReleaseLease(ctx, "dev", "old"))
	cur := acquire(t, s, "dev", "new", time.Minute)
	for name, err := range map[string]error{
		"SetOccupants":  s.SetOccupants(ctx, old, nil),
		"SetLastDeploy": s.SetLastDeploy(ctx, old, workflow.Deployment{}),
	} {
		if !errors.Is(err, workflow.ErrLeaseLost) {
			t.Errorf("%s with a stale lease: err = %v, want ErrLeaseLost", name, err)
		}
	}
	forged := cur
	forged.Fence = old.Fence
	if err := s.SetOccupants(ctx, forged, nil); !errors.Is(err, workflow.ErrLeaseLost) {
		t.Errorf("SetOccupants with the current token but an old fence: err = %v, want ErrLeaseLost", err)
	}
	if got := must[[]workflow.Occupant](t)(s.Occupants(ctx, "dev")); len(got) != 2 {
		t.Errorf("stale writes changed the occupants to %v", got)
	}
	if err := s.SetOccupants(ctx, cur, occ[1:]); err != nil {
		t.Fatal(err)
	}
	if got := must[[]workflow.Occupant](t)(s.Occupants(ctx, "dev")); !cmp.Equal(got, occ[1:]) {
		t.Errorf("Occupants mismatch (-got +want):\n%s", cmp.Diff(got, occ[1:]))
	}
}

func ids(q []workflow.QueueEntry) []string {
	var out []string
	for _, e := range q {
		out = append(out, e.ID)
	}
	return out
}

func testQueueFIFO(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	for i, id := range []string{"a", "b", "c"} {
		if pos := must[int](t)(s.Enqueue(ctx, "dev", workflow.QueueEntry{ID: id, Ticket: "OPS-1", By: "U1", Job: id == "c"}, time.Minute)); pos != i+1 {
			t.Errorf("Enqueue(%s) = %d, want %d", id, pos, i+1)
		}
	}
	if pos := must[int](t)(s.Enqueue(ctx, "dev", workflow.QueueEntry{ID: "a"}, time.Minute)); pos != 1 {
		t.Errorf("Enqueue of a queued entry = %d, want its place 1", pos)
	}
	if pos := must[int](t)(s.Enqueue(ctx, "stg", workflow.QueueEntry{ID: "z"}, time.Minute)); pos != 1 {
		t.Errorf("Enqueue on another env = %d, want 1", pos)
	}
	q := must[[]workflow.QueueEntry](t)(s.Queue(ctx, "dev"))
	if diff := cmp.Diff(ids(q), []string{"a", "b", "c"}); diff != "" {
		t.Errorf("Queue (-got +want):\n%s", diff)
	}
	if q[0].Ticket != "OPS-1" || q[0].By != "U1" || q[0].Enqueued.IsZero() {
		t.Errorf("head = %+v, want ticket, by and enqueue time kept", q[0])
	}
	if q[0].Job || !q[2].Job {
		t.Errorf("entries' Job flags = %v, %v; want false for a, true for c", q[0].Job, q[2].Job)
	}
	for id, want := range map[string]int{"a": 1, "b": 2, "c": 3, "nope": 0} {
		if pos := must[int](t)(s.QueuePosition(ctx, "dev", id)); pos != want {
			t.Errorf("QueuePosition(%s) = %d, want %d", id, pos, want)
		}
	}
	if ok := must[bool](t)(s.RemoveQueued(ctx, "dev", "b")); !ok {
		t.Error("RemoveQueued(b) = false, want true")
	}
	if ok := must[bool](t)(s.RemoveQueued(ctx, "dev", "b")); ok {
		t.Error("second RemoveQueued(b) = true, want false")
	}
	if pos := must[int](t)(s.QueuePosition(ctx, "dev", "c")); pos != 2 {
		t.Errorf("c after removing b: position %d, want 2", pos)
	}
	if pos := must[int](t)(s.TouchQueued(ctx, "dev", "b", time.Minute)); pos != 0 {
		t.Errorf("TouchQueued of a removed entry = %d, want 0", pos)
	}
	if pos := must[int](t)(s.QueuePosition(ctx, "dev", "b")); pos != 0 {
		t.Error("TouchQueued re-added a removed entry")
	}
	head, ok := must2[workflow.QueueEntry](t)(s.Dequeue(ctx, "dev"))
	if !ok || head.ID != "a" {
		t.Errorf("Dequeue = %+v, %v; want a", head, ok)
	}
	if pos := must[int](t)(s.QueuePosition(ctx, "dev", "c")); pos != 1 {
		t.Errorf("c after dequeue: position %d, want 1", pos)
	}
	must2[workflow.QueueEntry](t)(s.Dequeue(ctx, "dev"))
	if e, ok := must2[workflow.QueueEntry](t)(s.Dequeue(ctx, "dev")); ok {
		t.Errorf("Dequeue of an empty queue = %+v, want none", e)
	}
	if q := must[[]workflow.QueueEntry](t)(s.Queue(ctx, "stg")); len(q) != 1 {
		t.Errorf("stg queue = %v, want z alone", ids(q))
	}
}

func testQueueConcurrent(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	const n = 24
	pos := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			p, err := s.Enqueue(ctx, "dev", workflow.QueueEntry{ID: fmt.Sprint(i)}, time.Minute)
			if err != nil {
				t.Error(err)
			}
			pos[i] = p
		})
	}
	wg.Wait()
	q := must[[]workflow.QueueEntry](t)(s.Queue(ctx, "dev"))
	if len(q) != n {
		t.Fatalf("queue has %d entries, want %d", len(q), n)
	}
	for i := range n {
		if got := ids(q)[pos[i]-1]; got != fmt.Sprint(i) {
			t.Errorf("entry %d got position %d, where the queue has %s", i, pos[i], got)
		}
	}
}

func testQueueExpiry(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	// TTLs of a few hundred ms: the suite runs in parallel, also on a
	// cluster, on busy machines with the race detector.
	must[int](t)(s.Enqueue(ctx, "dev", workflow.QueueEntry{ID: "dead"}, 300*time.Millisecond))
	must[int](t)(s.Enqueue(ctx, "dev", workflow.QueueEntry{ID: "alive"}, 300*time.Millisecond))
	time.Sleep(50 * time.Millisecond)
	if pos := must[int](t)(s.TouchQueued(ctx, "dev", "alive", time.Minute)); pos != 2 {
		t.Errorf("TouchQueued(alive) = %d, want 2", pos)
	}
	time.Sleep(400 * time.Millisecond)
	if pos := must[int](t)(s.QueuePosition(ctx, "dev", "dead")); pos != 0 {
		t.Errorf("expired entry at position %d, want 0", pos)
	}
	if pos := must[int](t)(s.QueuePosition(ctx, "dev", "alive")); pos != 1 {
		t.Errorf("live entry at position %d after the head expired, want 1", pos)
	}
	if pos := must[int](t)(s.TouchQueued(ctx, "dev", "dead", time.Minute)); pos != 0 {
		t.Errorf("TouchQueued of an expired entry = %d, want 0", pos)
	}
}

func testHold(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	if _, ok := must2[workflow.Hold](t)(s.Hold(ctx, "dev")); ok {
		t.Fatal("new store holds dev")
	}
	h := workflow.Hold{Env: "dev", By: "U1", Reason: "testing payments", At: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	if err := s.SetHold(ctx, h); err != nil {
		t.Fatal(err)
	}
	if got, ok := must2[workflow.Hold](t)(s.Hold(ctx, "dev")); !ok || !cmp.Equal(got, h) {
		t.Errorf("Hold = %v (-got +want):\n%s", ok, cmp.Diff(got, h))
	}
	if ok := must[bool](t)(s.ClearHold(ctx, "dev")); !ok {
		t.Error("ClearHold = false, want true")
	}
	if ok := must[bool](t)(s.ClearHold(ctx, "dev")); ok {
		t.Error("second ClearHold = true, want false")
	}
	short := workflow.Hold{Env: "stg", By: "U1", Until: time.Now().Add(40 * time.Millisecond)}
	if err := s.SetHold(ctx, short); err != nil {
		t.Fatal(err)
	}
	if _, ok := must2[workflow.Hold](t)(s.Hold(ctx, "stg")); !ok {
		t.Error("stg not held before its hold ends")
	}
	time.Sleep(80 * time.Millisecond)
	if _, ok := must2[workflow.Hold](t)(s.Hold(ctx, "stg")); ok {
		t.Error("stg still held after its hold ended")
	}
}

func testReleases(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	r := workflow.Release{ID: "r1", Ticket: "OPS-1", Env: "dev", By: "U1", Via: workflow.ViaTerminal, RequestedAt: at, State: workflow.StateQueued, UpdatedAt: at}
	if err := s.CreateRelease(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRelease(ctx, r); workflow.KindOf(err) != workflow.Invalid {
		t.Errorf("CreateRelease of an existing ID: err = %v, want kind invalid", err)
	}
	for name, err := range map[string]error{
		"GetRelease":    func() error { _, err := s.GetRelease(ctx, "nope"); return err }(),
		"AppendStep":    s.AppendStep(ctx, "nope", workflow.Step{Name: "x"}),
		"UpdateRelease": s.UpdateRelease(ctx, "nope", workflow.ReleaseUpdate{State: workflow.StateFailed}),
	} {
		if workflow.KindOf(err) != workflow.NotFound {
			t.Errorf("%s of an unknown release: err = %v, want kind not found", name, err)
		}
	}
	if err := s.UpdateRelease(ctx, "r1", workflow.ReleaseUpdate{State: workflow.StateRunning, At: at.Add(time.Second), MergedSHA: "m1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateRelease(ctx, "r1", workflow.ReleaseUpdate{PushedSHA: "m1"}); err != nil {
		t.Fatal(err)
	}
	want := r
	want.State, want.UpdatedAt, want.MergedSHA, want.PushedSHA = workflow.StateRunning, at.Add(time.Second), "m1", "m1"
	if got := must[workflow.Release](t)(s.GetRelease(ctx, "r1")); !cmp.Equal(got, want) {
		t.Errorf("GetRelease after updates (-got +want):\n%s", cmp.Diff(got, want))
	}
}

// testReleaseStateCAS: an update with From applies only from those
// states, atomically: of racing transitions out of queued, one wins.
func testReleaseStateCAS(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	r := workflow.Release{ID: "r1", Ticket: "OPS-1", Env: "dev", By: "U1", RequestedAt: at, State: workflow.StateRunning, UpdatedAt: at}
	if err := s.CreateRelease(ctx, r); err != nil {
		t.Fatal(err)
	}
	err := s.UpdateRelease(ctx, "r1", workflow.ReleaseUpdate{
		From: []workflow.ReleaseState{workflow.StateQueued}, State: workflow.StateCancelled, At: at.Add(time.Second), Error: "cancelled",
	})
	if workflow.KindOf(err) != workflow.Conflict || !errors.Is(err, workflow.ErrStateMoved) {
		t.Errorf("UpdateRelease from queued of a running release: err = %v, want kind conflict wrapping ErrStateMoved", err)
	}
	if got := must[workflow.Release](t)(s.GetRelease(ctx, "r1")); !cmp.Equal(got, r) {
		t.Errorf("a refused update changed the record (-got +want):\n%s", cmp.Diff(got, r))
	}
	err = s.UpdateRelease(ctx, "nope", workflow.ReleaseUpdate{From: []workflow.ReleaseState{workflow.StateQueued}, State: workflow.StateRunning})
	if workflow.KindOf(err) != workflow.NotFound {
		t.Errorf("UpdateRelease with From of an unknown release: err = %v, want kind not found", err)
	}
	u := workflow.ReleaseUpdate{From: []workflow.ReleaseState{workflow.StateQueued, workflow.StateRunning}, State: workflow.StateReleased, At: at.Add(2 * time.Second), PushedSHA: "p1"}
	if err := s.UpdateRelease(ctx, "r1", u); err != nil {
		t.Fatalf("UpdateRelease from queued or running of a running release: %v", err)
	}
	want := r
	want.State, want.UpdatedAt, want.PushedSHA = workflow.StateReleased, at.Add(2*time.Second), "p1"
	if got := must[workflow.Release](t)(s.GetRelease(ctx, "r1")); !cmp.Equal(got, want) {
		t.Errorf("GetRelease after the update (-got +want):\n%s", cmp.Diff(got, want))
	}

	// Rounds of a cancel racing a start: exactly one wins each.
	for round := range 20 {
		id := fmt.Sprint("race-", round)
		if err := s.CreateRelease(ctx, workflow.Release{ID: id, State: workflow.StateQueued}); err != nil {
			t.Fatal(err)
		}
		from := []workflow.ReleaseState{workflow.StateQueued}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, to := range []workflow.ReleaseState{workflow.StateCancelled, workflow.StateRunning} {
			wg.Go(func() { errs[i] = s.UpdateRelease(ctx, id, workflow.ReleaseUpdate{From: from, State: to}) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else if !errors.Is(err, workflow.ErrStateMoved) {
				t.Fatalf("%s: %v", id, err)
			}
		}
		got := must[workflow.Release](t)(s.GetRelease(ctx, id)).State
		if won != 1 || (got == workflow.StateCancelled) != (errs[0] == nil) {
			t.Errorf("%s: %d transitions won (errors %v), state %s; want one, and the state it set", id, won, errs, got)
		}
	}
}

func testJournalOrder(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	if err := s.CreateRelease(ctx, workflow.Release{ID: "r1", State: workflow.StateQueued}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var want []workflow.Step
	for i := range 40 {
		st := workflow.Step{Name: fmt.Sprintf("step-%02d", i), At: at.Add(time.Duration(i) * time.Second), Detail: "d"}
		if err := s.AppendStep(ctx, "r1", st); err != nil {
			t.Fatal(err)
		}
		want = append(want, st)
	}
	if got := must[workflow.Release](t)(s.GetRelease(ctx, "r1")).Steps; !cmp.Equal(got, want) {
		t.Errorf("journal (-got +want):\n%s", cmp.Diff(got, want))
	}
	// Concurrent appends all land.
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			if err := s.AppendStep(ctx, "r1", workflow.Step{Name: fmt.Sprint("c", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := len(must[workflow.Release](t)(s.GetRelease(ctx, "r1")).Steps); got != 40+16 {
		t.Errorf("journal has %d steps after concurrent appends, want %d", got, 40+16)
	}
}

func testAuditCap(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	total := workflow.AuditKeep + 7
	for i := range total {
		e := workflow.Event{At: at.Add(time.Duration(i) * time.Second), Env: "dev", Action: workflow.ActionReleased, Actor: "U1", Detail: fmt.Sprint(i)}
		if err := s.AppendEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AppendEvent(ctx, workflow.Event{At: at, Env: "stg", Action: workflow.ActionDeployed}); err != nil {
		t.Fatal(err)
	}
	all := must[[]workflow.Event](t)(s.Events(ctx, "dev", 0))
	if len(all) != workflow.AuditKeep {
		t.Fatalf("dev keeps %d events, want %d", len(all), workflow.AuditKeep)
	}
	if all[0].Detail != fmt.Sprint(total-1) || all[len(all)-1].Detail != fmt.Sprint(total-workflow.AuditKeep) {
		t.Errorf("kept events %s..%s (newest first), want %d..%d", all[0].Detail, all[len(all)-1].Detail, total-1, total-workflow.AuditKeep)
	}
	var got []string
	for _, e := range must[[]workflow.Event](t)(s.Events(ctx, "dev", 3)) {
		got = append(got, e.Detail)
	}
	want := []string{fmt.Sprint(total - 1), fmt.Sprint(total - 2), fmt.Sprint(total - 3)}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Events(dev, 3) (-got +want):\n%s", diff)
	}
	if got := must[[]workflow.Event](t)(s.Events(ctx, "stg", 10)); len(got) != 1 || got[0].Action != workflow.ActionDeployed {
		t.Errorf("Events(stg) = %+v, want the one deploy", got)
	}
}

func testClaim(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for range 16 {
		wg.Go(func() {
			ok, err := s.Claim(ctx, "envelope:1", time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d concurrent claims of one key succeeded, want 1", wins)
	}
	if ok := must[bool](t)(s.Claim(ctx, "envelope:2", time.Minute)); !ok {
		t.Error("first claim of another key failed")
	}
	if ok := must[bool](t)(s.Claim(ctx, "short", 40*time.Millisecond)); !ok {
		t.Fatal("first claim failed")
	}
	if ok := must[bool](t)(s.Claim(ctx, "short", 40*time.Millisecond)); ok {
		t.Error("second claim before expiry succeeded")
	}
	time.Sleep(80 * time.Millisecond)
	if ok := must[bool](t)(s.Claim(ctx, "short", time.Minute)); !ok {
		t.Error("claim after expiry failed")
	}
}
