package workflowtest

import (
	"sync"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// testEpoch: a new store makes its epoch once, whoever asks first, and
// keeps it.
func testEpoch(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	const n = 8
	var (
		wg      sync.WaitGroup
		epochs  [n]string
		created [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() { epochs[i], created[i], errs[i] = s.Epoch(ctx) })
	}
	wg.Wait()
	makers := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Epoch: %v", errs[i])
		}
		if epochs[i] == "" || epochs[i] != epochs[0] {
			t.Errorf("Epoch of caller %d = %q, caller 0 got %q; want one non-empty value", i, epochs[i], epochs[0])
		}
		if created[i] {
			makers++
		}
	}
	if makers != 1 {
		t.Errorf("%d of %d concurrent callers were told they created the epoch; want 1", makers, n)
	}
	// Other state does not change it.
	if _, _, err := s.AcquireLease(ctx, "dev", workflow.Lease{Token: "t"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if e, c, err := s.Epoch(ctx); err != nil || e != epochs[0] || c {
		t.Errorf("Epoch later = %q, %v, %v; want %q, false", e, c, err, epochs[0])
	}
}
