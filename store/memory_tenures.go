package store

import (
	"context"

	"github.com/code-releaser/code-releaser/workflow"
)

// Tenures implements workflow.Tenures.
func (m *Memory) Tenures(ctx context.Context, env string) (map[workflow.TicketKey]workflow.Tenure, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable("store.tenures", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[workflow.TicketKey]workflow.Tenure{}
	for k, t := range m.tenures[env] {
		out[k] = t
	}
	return out, nil
}

// Extend implements workflow.Tenures.
func (m *Memory) Extend(ctx context.Context, env string, ticket workflow.TicketKey, releaseID string, from, max int) (workflow.Tenure, bool, error) {
	if err := ctx.Err(); err != nil {
		return workflow.Tenure{}, false, unavailable("store.extend", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tenures == nil {
		m.tenures = map[string]map[workflow.TicketKey]workflow.Tenure{}
	}
	if m.tenures[env] == nil {
		m.tenures[env] = map[workflow.TicketKey]workflow.Tenure{}
	}
	t := m.tenures[env][ticket]
	if t.ReleaseID != releaseID {
		t = workflow.Tenure{Ticket: ticket, ReleaseID: releaseID}
	}
	if t.Extensions != from || t.Extensions >= max {
		return t, false, nil
	}
	t.Extensions++
	m.tenures[env][ticket] = t
	return t, true, nil
}

// DropTenures implements workflow.Tenures.
func (m *Memory) DropTenures(ctx context.Context, env string, tickets ...workflow.TicketKey) error {
	if err := ctx.Err(); err != nil {
		return unavailable("store.tenures", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range tickets {
		delete(m.tenures[env], k)
	}
	return nil
}
