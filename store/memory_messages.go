package store

import (
	"context"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

type messageRef struct {
	ref     workflow.MessageRef
	expires time.Time
}

// PutMessageRef implements workflow.MessageRefs.
func (m *Memory) PutMessageRef(ctx context.Context, key string, ref workflow.MessageRef, ttl time.Duration) error {
	const op = "store.message"
	if err := ctx.Err(); err != nil {
		return unavailable(op, err)
	}
	if key == "" || ttl <= 0 {
		return workflow.Errorf(op, workflow.Invalid, "a message ref needs a key and a positive TTL")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	if m.messages == nil {
		m.messages = map[string]messageRef{}
	}
	if len(m.messages) > 4096 {
		for k, r := range m.messages {
			if !live(r.expires, now) {
				delete(m.messages, k)
			}
		}
	}
	m.messages[key] = messageRef{ref: ref, expires: now.Add(ttl)}
	return nil
}

// GetMessageRef implements workflow.MessageRefs.
func (m *Memory) GetMessageRef(ctx context.Context, key string) (workflow.MessageRef, bool, error) {
	if err := ctx.Err(); err != nil {
		return workflow.MessageRef{}, false, unavailable("store.message", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.messages[key]
	if !ok || !live(r.expires, m.clock.Now()) {
		return workflow.MessageRef{}, false, nil
	}
	return r.ref, true, nil
}
