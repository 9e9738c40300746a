package workflow

import (
	"context"
	"time"
)

// MessageRef is where a release or an approval request was told in chat,
// kept in the shared Store so that whichever replica runs the release
// next edits the same message and replies in the same thread.
type MessageRef struct {
	Channel string
	TS      string // the message; "" while only the channel is known
	Thread  string // the thread to reply in; "" means TS
	// Text is the message's text as first posted, for edits that keep it
	// (an approval request's preview); optional.
	Text string
}

// ThreadTS returns the thread to reply in.
func (m MessageRef) ThreadTS() string {
	if m.Thread != "" {
		return m.Thread
	}
	return m.TS
}

// MessageRefs keeps MessageRefs by key (a release or approval request ID
// with the adapter's prefix) for a bounded time.
type MessageRefs interface {
	// PutMessageRef stores ref under key for ttl, replacing what was
	// there (SET PX).
	PutMessageRef(ctx context.Context, key string, ref MessageRef, ttl time.Duration) error
	// GetMessageRef returns key's ref; ok is false when there is none or
	// it expired.
	GetMessageRef(ctx context.Context, key string) (ref MessageRef, ok bool, err error)
}
