package workflow

import (
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
	By        string   // the requester's user ID
	SHA       string   // the exact commit to deploy
	Digest    string   // of the Preview shown (Preview.Digest)
	Required  int      // approvals needed
	Approvers []string // who may vote: user and user-group IDs (the env's policy when asked)
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
