package bot

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// defaultEditInterval is how often one message is edited at most while
// its release works.
const defaultEditInterval = 2 * time.Second

// edits coalesces the chat.update calls of the release messages: at most
// one per message per interval, the newest content winning; a message's
// final state is written at once and never replaced by progress. Edits
// are written by a goroutine per message being edited, so a slow or
// rate-limited Slack (429 Retry-After, waited out here) never holds up
// the release that reports its steps.
type edits struct {
	log      *slog.Logger
	client   *Client
	interval time.Duration

	ctx    context.Context // ends on close: pending writes give up
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	msgs map[string]*edit // by channel/ts
}

// edit is one message's pending and last written content.
type edit struct {
	next      *message  // content to write; nil when written
	urgent    bool      // next is the final state, or a flush asked: no coalescing wait
	final     bool      // the final state was queued: progress no longer replaces it
	last      time.Time // when the message was last written (posted or updated)
	notBefore time.Time // Slack's Retry-After
	running   bool      // a goroutine is writing it
	wake      chan struct{}
}

func newEdits(log *slog.Logger, c *Client, interval time.Duration) *edits {
	if interval <= 0 {
		interval = defaultEditInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &edits{log: log, client: c, interval: interval, ctx: ctx, cancel: cancel, msgs: map[string]*edit{}}
}

func editKey(channel, ts string) string { return channel + "/" + ts }

// get returns key's entry, making it; e.mu is held.
func (e *edits) get(key string) *edit {
	x, ok := e.msgs[key]
	if !ok {
		x = &edit{wake: make(chan struct{}, 1)}
		e.msgs[key] = x
	}
	return x
}

// posted records that the message was just posted: its first edit waits
// an interval from now; final: it was posted with the release's outcome.
func (e *edits) posted(channel, ts string, final bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.prune()
	x := e.get(editKey(channel, ts))
	x.last, x.final = time.Now(), final
}

// update queues m (m.ts set) to replace the message. final marks the
// release's outcome: it is written without waiting for the interval, and
// later non-final content for the message is dropped.
func (e *edits) update(m message, final bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(editKey(m.channel, m.ts))
	if x.final && !final {
		return // the outcome stands
	}
	x.next = &m
	if final {
		x.final, x.urgent = true, true
	}
	if x.running {
		select {
		case x.wake <- struct{}{}:
		default:
		}
		return
	}
	x.running = true
	e.wg.Add(1)
	go e.write(editKey(m.channel, m.ts), x)
}

// write writes x's content until none is pending, keeping the interval
// between writes (but for urgent content) and Slack's Retry-After.
func (e *edits) write(key string, x *edit) {
	defer e.wg.Done()
	attempts := 0
	for {
		e.mu.Lock()
		if x.next == nil {
			x.running = false
			e.mu.Unlock()
			return
		}
		at := x.notBefore
		if !x.urgent {
			if next := x.last.Add(e.interval); next.After(at) {
				at = next
			}
		}
		if wait := time.Until(at); wait > 0 {
			e.mu.Unlock()
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-x.wake:
				t.Stop()
			case <-e.ctx.Done():
				t.Stop()
				e.drop(key, x, "the bot stopped before the edit was due")
				return
			}
			continue
		}
		m := *x.next
		x.next, x.urgent = nil, false
		e.mu.Unlock()

		retry, err := e.client.updateOnce(e.ctx, m)
		e.mu.Lock()
		switch {
		case retry > 0 && attempts < 10:
			attempts++
			x.notBefore = time.Now().Add(retry)
			if x.next == nil { // nothing newer: write this again
				x.next = &m
			}
			x.urgent = x.urgent || x.final
			e.log.Debug("chat.update rate-limited; the edit waits", slog.String("ts", m.ts), slog.Duration("retry_after", retry))
		case err != nil:
			e.log.Warn("edit a release message", slog.String("channel", m.channel), slog.String("ts", m.ts), slog.Any("err", err))
			x.last = time.Now()
		default:
			attempts = 0
			x.last = time.Now()
		}
		e.mu.Unlock()
	}
}

// drop gives up x's pending content (logged).
func (e *edits) drop(key string, x *edit, why string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x.next != nil {
		e.log.Warn("a release message's last edit was not written", slog.String("message", key), slog.String("why", why))
	}
	x.next, x.running = nil, false
}

// prune forgets messages not written for a while; e.mu is held.
func (e *edits) prune() {
	if len(e.msgs) < 256 {
		return
	}
	for k, x := range e.msgs {
		if !x.running && time.Since(x.last) > 10*time.Minute {
			delete(e.msgs, k)
		}
	}
}

// flush writes every pending edit now (Retry-After still applies) and
// waits for them until ctx ends; then the edits still pending are given
// up.
func (e *edits) flush(ctx context.Context) error {
	e.mu.Lock()
	for _, x := range e.msgs {
		if x.next != nil {
			x.urgent = true
			select {
			case x.wake <- struct{}{}:
			default:
			}
		}
	}
	e.mu.Unlock()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		e.cancel()
		<-done
		return ctx.Err()
	}
}

// updateOnce makes one chat.update call: a rate limit is returned as the
// time Slack asks to wait, not waited out.
func (c *Client) updateOnce(ctx context.Context, m message) (time.Duration, error) {
	_, _, _, err := c.api.UpdateMessageContext(ctx, m.channel, m.ts, m.options()...)
	var rl *slack.RateLimitedError
	switch {
	case err == nil:
		c.metrics.APICall("chat.update", "ok")
		return 0, nil
	case errors.As(err, &rl):
		c.metrics.APICall("chat.update", "rate_limited")
		return min(max(rl.RetryAfter, 100*time.Millisecond), time.Minute), nil
	}
	c.metrics.APICall("chat.update", "error")
	return 0, slackError("chat.update", err)
}
