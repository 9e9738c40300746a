package store

import (
	"context"
	"slices"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// CreateApproval implements workflow.Approvals.
func (m *Memory) CreateApproval(ctx context.Context, a workflow.ApprovalRequest) error {
	const op = "store.approval"
	if err := ctx.Err(); err != nil {
		return unavailable(op, err)
	}
	if a.ID == "" {
		return workflow.Errorf(op, workflow.Invalid, "an approval request needs an ID")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.approvals == nil {
		m.approvals = map[string]*workflow.ApprovalRequest{}
	}
	if _, ok := m.approvals[a.ID]; ok {
		return workflow.Errorf(op, workflow.Invalid, "approval request %s exists already", a.ID)
	}
	a.Votes = slices.Clone(a.Votes)
	m.approvals[a.ID] = &a
	return nil
}

// approval returns a copy of request id. Callers hold mu.
func (m *Memory) approval(id string) (*workflow.ApprovalRequest, workflow.ApprovalRequest, error) {
	a, ok := m.approvals[id]
	if !ok {
		return nil, workflow.ApprovalRequest{}, workflow.Errorf("store.approval", workflow.NotFound, "there is no approval request %s", id)
	}
	out := *a
	out.Votes = slices.Clone(a.Votes)
	return a, out, nil
}

// GetApproval implements workflow.Approvals.
func (m *Memory) GetApproval(ctx context.Context, id string) (workflow.ApprovalRequest, error) {
	if err := ctx.Err(); err != nil {
		return workflow.ApprovalRequest{}, unavailable("store.approval", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, out, err := m.approval(id)
	return out, err
}

// AddVote implements workflow.Approvals.
func (m *Memory) AddVote(ctx context.Context, id string, v workflow.Vote) (workflow.ApprovalRequest, bool, error) {
	if err := ctx.Err(); err != nil {
		return workflow.ApprovalRequest{}, false, unavailable("store.approval", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a, out, err := m.approval(id)
	if err != nil {
		return out, false, err
	}
	if a.State != workflow.ApprovalPending || slices.ContainsFunc(a.Votes, func(x workflow.Vote) bool { return x.User == v.User }) {
		return out, false, nil
	}
	a.Votes = append(a.Votes, v)
	_, out, _ = m.approval(id)
	return out, true, nil
}

// CloseApproval implements workflow.Approvals.
func (m *Memory) CloseApproval(ctx context.Context, id string, state workflow.ApprovalState, reason string, at time.Time) (workflow.ApprovalRequest, bool, error) {
	if err := ctx.Err(); err != nil {
		return workflow.ApprovalRequest{}, false, unavailable("store.approval", err)
	}
	if state == workflow.ApprovalPending || state == "" {
		return workflow.ApprovalRequest{}, false, workflow.Errorf("store.approval", workflow.Invalid, "an approval request closes with a final state")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a, out, err := m.approval(id)
	if err != nil || a.State != workflow.ApprovalPending {
		return out, false, err
	}
	a.State, a.Reason, a.Closed = state, reason, at
	_, out, _ = m.approval(id)
	return out, true, nil
}
