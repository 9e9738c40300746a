package store

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/code-releaser/code-releaser/workflow"
)

// approvalKeep is how long a request is kept after it expires, for the
// record (votes on it are refused with its state rather than "unknown").
const approvalKeep = 7 * 24 * time.Hour

var (
	approvalCreate = script("approval_create")
	approvalVote   = script("approval_vote")
	approvalClose  = script("approval_close")
)

// A request lives in a hash under {appr:ID} (data: the request's JSON
// without votes; state, reason, closed) and its votes in the hash
// {appr:ID}:votes (user → vote JSON), so that one vote per person is one
// HSET guarded by the script.
func (s *Redis) approvalKeys(id string) []string {
	k := s.opts.Prefix + "{appr:" + id + "}"
	return []string{k, k + ":votes"}
}

// CreateApproval implements workflow.Approvals.
func (s *Redis) CreateApproval(ctx context.Context, a workflow.ApprovalRequest) error {
	const op = "store.approval"
	if a.ID == "" {
		return workflow.Errorf(op, workflow.Invalid, "an approval request needs an ID")
	}
	a.Votes, a.State, a.Reason, a.Closed = nil, "", "", time.Time{}
	data, err := json.Marshal(a)
	if err != nil {
		return workflow.Wrap(op, workflow.Internal, "cannot encode", err)
	}
	ttl := time.Until(a.Expires) + approvalKeep
	n, err := approvalCreate.Run(ctx, s.rdb, s.approvalKeys(a.ID), data, max(ms(ttl), 1)).Int()
	if err != nil {
		return fail(op, err)
	}
	if n != 1 {
		return workflow.Errorf(op, workflow.Invalid, "approval request %s exists already", a.ID)
	}
	return nil
}

// GetApproval implements workflow.Approvals.
func (s *Redis) GetApproval(ctx context.Context, id string) (workflow.ApprovalRequest, error) {
	const op = "store.approval"
	keys := s.approvalKeys(id)
	var rec, votes *redis.MapStringStringCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		rec = p.HGetAll(ctx, keys[0])
		votes = p.HGetAll(ctx, keys[1])
		return nil
	})
	if err != nil {
		return workflow.ApprovalRequest{}, fail(op, err)
	}
	f := rec.Val()
	if len(f) == 0 {
		return workflow.ApprovalRequest{}, workflow.Errorf(op, workflow.NotFound, "there is no approval request %s", id)
	}
	var a workflow.ApprovalRequest
	if err := json.Unmarshal([]byte(f["data"]), &a); err != nil {
		return workflow.ApprovalRequest{}, workflow.Wrap(op, workflow.Internal, "an approval request in Redis is damaged", err)
	}
	a.State, a.Reason, a.Closed = workflow.ApprovalState(f["state"]), f["reason"], parseTime(f["closed"])
	for _, data := range votes.Val() {
		var v workflow.Vote
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			return workflow.ApprovalRequest{}, workflow.Wrap(op, workflow.Internal, "a vote in Redis is damaged", err)
		}
		a.Votes = append(a.Votes, v)
	}
	slices.SortFunc(a.Votes, func(x, y workflow.Vote) int {
		return cmp.Or(x.At.Compare(y.At), cmp.Compare(x.User, y.User))
	})
	return a, nil
}

// AddVote implements workflow.Approvals.
func (s *Redis) AddVote(ctx context.Context, id string, v workflow.Vote) (workflow.ApprovalRequest, bool, error) {
	const op = "store.approval"
	data, err := json.Marshal(v)
	if err != nil {
		return workflow.ApprovalRequest{}, false, workflow.Wrap(op, workflow.Internal, "cannot encode", err)
	}
	n, err := approvalVote.Run(ctx, s.rdb, s.approvalKeys(id), v.User, data).Int()
	if err != nil {
		return workflow.ApprovalRequest{}, false, fail(op, err)
	}
	if n < 0 {
		return workflow.ApprovalRequest{}, false, workflow.Errorf(op, workflow.NotFound, "there is no approval request %s", id)
	}
	a, err := s.GetApproval(ctx, id)
	return a, n == 1 && err == nil, err
}

// CloseApproval implements workflow.Approvals.
func (s *Redis) CloseApproval(ctx context.Context, id string, state workflow.ApprovalState, reason string, at time.Time) (workflow.ApprovalRequest, bool, error) {
	const op = "store.approval"
	if state == workflow.ApprovalPending || state == "" {
		return workflow.ApprovalRequest{}, false, workflow.Errorf(op, workflow.Invalid, "an approval request closes with a final state")
	}
	n, err := approvalClose.Run(ctx, s.rdb, s.approvalKeys(id)[:1], string(state), reason, formatTime(at)).Int()
	if err != nil {
		return workflow.ApprovalRequest{}, false, fail(op, err)
	}
	if n < 0 {
		return workflow.ApprovalRequest{}, false, workflow.Errorf(op, workflow.NotFound, "there is no approval request %s", id)
	}
	a, err := s.GetApproval(ctx, id)
	return a, n == 1 && err == nil, err
}
