package workflow

import (
	"context"
	"slices"
	"time"
)

// ApprovalState is where a prod approval request stands.
type ApprovalState string

// The approval states. Pending is live; the others are final.
const (
	ApprovalPending  ApprovalState = "pending"
	ApprovalApproved ApprovalState = "approved"
	ApprovalRejected ApprovalState = "rejected"
	ApprovalVoided   ApprovalState = "voided"  // master or the preview changed
	ApprovalExpired  ApprovalState = "expired" // not enough votes in time
	ApprovalLapsed   ApprovalState = "lapsed"  // the bot stopped and nobody could resume the wait (no shared state)
)

// ApprovalRequest is a pending (or decided) request to deploy exactly SHA
// to Env, bound to the preview people were shown (Digest).
type ApprovalRequest struct {
	ID        string // ReleaseID-SHA7-DIGEST8: the buttons' value
	ReleaseID string
	Env       string
	Ticket    TicketKey
	By        string // the requester's user ID
	SHA       string // the exact commit to deploy
	Digest    string // of the Preview shown (Preview.Digest)
	Required  int    // approvals needed
	State     ApprovalState
	Reason    string // why it ended, for people ("" while pending)
	Created   time.Time
	Expires   time.Time
	Closed    time.Time
	Votes     []Vote // oldest first; one per person
}

// Vote is one person's answer to an approval request.
type Vote struct {
	User    string
	Approve bool // false: reject
	At      time.Time
}

// Approvals counts the approving votes.
func (a ApprovalRequest) Approvals() int {
	n := 0
	for _, v := range a.Votes {
		if v.Approve {
			n++
		}
	}
	return n
}

// Rejection returns the first rejecting vote.
func (a ApprovalRequest) Rejection() (Vote, bool) {
	i := slices.IndexFunc(a.Votes, func(v Vote) bool { return !v.Approve })
	if i < 0 {
		return Vote{}, false
	}
	return a.Votes[i], true
}

// Approvals keeps prod approval requests and their votes; every method is
// atomic. Requests are kept at least until they expire (implementations
// may keep them a while longer for the record).
type Approvals interface {
	// CreateApproval stores a new pending request; an ID that exists
	// already gives an Invalid error.
	CreateApproval(ctx context.Context, a ApprovalRequest) error
	// GetApproval returns a request with its votes; NotFound if none.
	GetApproval(ctx context.Context, id string) (ApprovalRequest, error)
	// AddVote records v on request id when the request is pending and
	// v.User has not voted on it yet, and returns the request as it is
	// after (recorded false when nothing changed). NotFound if none.
	AddVote(ctx context.Context, id string, v Vote) (a ApprovalRequest, recorded bool, err error)
	// CloseApproval ends request id with state (not Pending) and reason
	// when it is still pending, and returns it as it is after (closed
	// false when it had ended already). NotFound if none.
	CloseApproval(ctx context.Context, id string, state ApprovalState, reason string, at time.Time) (a ApprovalRequest, closed bool, err error)
}
