package workflowtest

import (
	"context"
	"sync"
	"testing"

	"github.com/code-releaser/code-releaser/workflow"
)

// testTenures: Keeps are counted per release of a ticket as a
// compare-and-set (of concurrent Keeps of one reminder, one wins), never
// past the limit, and forgotten when dropped.
func testTenures(t *testing.T, s workflow.Store) {
	ctx := context.Background()
	for from := range 3 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		granted := 0
		for range 10 {
			wg.Go(func() {
				_, ok, err := s.Extend(ctx, "dev", "OPS-1", "r1", from, 3)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					granted++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if granted != 1 {
			t.Errorf("10 concurrent Keeps from %d: %d granted, want 1", from, granted)
		}
	}
	got, ok, err := s.Extend(ctx, "dev", "OPS-1", "r1", 3, 3)
	if err != nil || ok || got.Extensions != 3 || got.ReleaseID != "r1" {
		t.Errorf("a Keep past the limit: %+v, %v, %v; want refused at 3 of r1", got, ok, err)
	}
	if got, ok, err := s.Extend(ctx, "dev", "OPS-1", "r1", 1, 5); err != nil || ok || got.Extensions != 3 {
		t.Errorf("a stale Keep (from 1 at 3): %+v, %v, %v; want refused, 3", got, ok, err)
	}
	// Another release of the ticket starts again.
	if got, ok, err := s.Extend(ctx, "dev", "OPS-1", "r2", 0, 3); err != nil || !ok || got.Extensions != 1 || got.ReleaseID != "r2" {
		t.Errorf("a Keep of a new release: %+v, %v, %v; want 1 of r2", got, ok, err)
	}
	if _, _, err := s.Extend(ctx, "dev", "OPS-2", "r3", 0, 3); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Extend(ctx, "stg", "OPS-1", "r9", 0, 3); err != nil {
		t.Fatal(err)
	}
	all, err := s.Tenures(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	want := map[workflow.TicketKey]workflow.Tenure{
		"OPS-1": {Ticket: "OPS-1", ReleaseID: "r2", Extensions: 1},
		"OPS-2": {Ticket: "OPS-2", ReleaseID: "r3", Extensions: 1},
	}
	if len(all) != len(want) || all["OPS-1"] != want["OPS-1"] || all["OPS-2"] != want["OPS-2"] {
		t.Errorf("dev's tenures: %+v, want %+v", all, want)
	}
	if err := s.DropTenures(ctx, "dev", "OPS-1"); err != nil {
		t.Fatal(err)
	}
	all, err = s.Tenures(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := all["OPS-1"]; ok || len(all) != 1 {
		t.Errorf("after dropping OPS-1: %+v", all)
	}
	if stg, err := s.Tenures(ctx, "stg"); err != nil || stg["OPS-1"].Extensions != 1 {
		t.Errorf("stg's tenures, untouched by dev's: %+v, %v", stg, err)
	}
	// With a limit of 0 nothing is granted.
	if _, ok, err := s.Extend(ctx, "dev", "OPS-5", "r5", 0, 0); err != nil || ok {
		t.Errorf("a Keep with a limit of 0: %v, %v", ok, err)
	}
}
