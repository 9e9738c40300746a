package workflowtest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
	"github.com/google/go-cmp/cmp"
)

func newApproval(id string) workflow.ApprovalRequest {
	now := time.Now().Truncate(time.Millisecond)
	return workflow.ApprovalRequest{
		ID: id, ReleaseID: "r1", Env: "prod", Ticket: "OPS-1", By: "U1",
		SHA: "0123456789abcdef0123456789abcdef01234567", Digest: "d1", Required: 2,
		State: workflow.ApprovalPending, Created: now, Expires: now.Add(time.Hour),
	}
}

func testApprovals(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	a := newApproval("r1-0123456-abcdef01")
	if err := s.CreateApproval(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateApproval(ctx, a); workflow.KindOf(err) != workflow.Invalid {
		t.Errorf("CreateApproval twice: %v, want invalid", err)
	}
	if _, err := s.GetApproval(ctx, "nope"); workflow.KindOf(err) != workflow.NotFound {
		t.Errorf("GetApproval(nope): %v, want not found", err)
	}
	if _, _, err := s.AddVote(ctx, "nope", workflow.Vote{User: "U2", Approve: true, At: time.Now()}); workflow.KindOf(err) != workflow.NotFound {
		t.Errorf("AddVote(nope): %v, want not found", err)
	}
	got := must[workflow.ApprovalRequest](t)(s.GetApproval(ctx, a.ID))
	if diff := cmp.Diff(got, a); diff != "" {
		t.Errorf("GetApproval (-got +want):\n%s", diff)
	}
	at := time.Now().Truncate(time.Millisecond)
	v2 := workflow.Vote{User: "U2", Approve: true, At: at}
	got, ok, err := s.AddVote(ctx, a.ID, v2)
	if err != nil || !ok || got.Approvals() != 1 {
		t.Fatalf("AddVote(U2) = %+v, %v, %v; want recorded, 1 approval", got, ok, err)
	}
	// One vote per person, whatever it says.
	got, ok, err = s.AddVote(ctx, a.ID, workflow.Vote{User: "U2", Approve: false, At: at.Add(time.Second)})
	if err != nil || ok || len(got.Votes) != 1 || !got.Votes[0].Approve {
		t.Errorf("second AddVote(U2) = %+v, %v, %v; want not recorded, the first vote kept", got, ok, err)
	}
	v3 := workflow.Vote{User: "U3", Approve: false, At: at.Add(2 * time.Second)}
	if _, ok, err := s.AddVote(ctx, a.ID, v3); err != nil || !ok {
		t.Fatalf("AddVote(U3): %v, %v", ok, err)
	}
	got = must[workflow.ApprovalRequest](t)(s.GetApproval(ctx, a.ID))
	if diff := cmp.Diff(got.Votes, []workflow.Vote{v2, v3}); diff != "" {
		t.Errorf("votes, oldest first (-got +want):\n%s", diff)
	}
	if _, _, err := s.CloseApproval(ctx, a.ID, workflow.ApprovalPending, "", at); workflow.KindOf(err) != workflow.Invalid {
		t.Errorf("CloseApproval(pending): %v, want invalid", err)
	}
	closed := at.Add(3 * time.Second)
	got, ok, err = s.CloseApproval(ctx, a.ID, workflow.ApprovalRejected, "rejected by U3", closed)
	if err != nil || !ok || got.State != workflow.ApprovalRejected || got.Reason != "rejected by U3" || !got.Closed.Equal(closed) {
		t.Fatalf("CloseApproval = %+v, %v, %v; want rejected", got, ok, err)
	}
	// Ended: no more votes, no second close.
	if got, ok, err := s.CloseApproval(ctx, a.ID, workflow.ApprovalApproved, "x", closed); err != nil || ok || got.State != workflow.ApprovalRejected {
		t.Errorf("second CloseApproval = %+v, %v, %v; want unchanged", got, ok, err)
	}
	if got, ok, err := s.AddVote(ctx, a.ID, workflow.Vote{User: "U4", Approve: true, At: closed}); err != nil || ok || len(got.Votes) != 2 {
		t.Errorf("AddVote after close = %+v, %v, %v; want refused", got, ok, err)
	}
	if _, _, err := s.CloseApproval(ctx, "nope", workflow.ApprovalVoided, "x", closed); workflow.KindOf(err) != workflow.NotFound {
		t.Errorf("CloseApproval(nope): %v, want not found", err)
	}
}

// testApprovalVotesConcurrent: many replicas record the same people's
// clicks at once; each person counts once.
func testApprovalVotesConcurrent(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	a := newApproval("r2-0123456-abcdef01")
	if err := s.CreateApproval(ctx, a); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	recorded := map[string]int{}
	for i := range 40 {
		wg.Go(func() {
			user := fmt.Sprint("U", i%5)
			_, ok, err := s.AddVote(ctx, a.ID, workflow.Vote{User: user, Approve: true, At: time.Now()})
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				recorded[user]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got := must[workflow.ApprovalRequest](t)(s.GetApproval(ctx, a.ID))
	if len(got.Votes) != 5 || len(recorded) != 5 {
		t.Errorf("%d votes kept, recorded %v; want one per person (5)", len(got.Votes), recorded)
	}
	for u, n := range recorded {
		if n != 1 {
			t.Errorf("%s's vote recorded %d times", u, n)
		}
	}
}
