package bot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// retryUnavailable runs op until it succeeds, fails otherwise than with
// an Unavailable error (the state store or another service down), or
// cfg.StoreRetry has passed, and returns its last error. The first time op
// finds the service unavailable, a command's user is told that the bot
// keeps trying and that nothing has happened yet; whatever happens next is
// the command's own reply. Only commands retry: an Events API delivery is
// retried by Slack, a click by its user.
func (b *Bot) retryUnavailable(ctx context.Context, req *Request, op func() error) error {
	deadline := time.Now().Add(b.cfg.StoreRetry)
	wait := 250 * time.Millisecond
	for {
		err := op()
		if err == nil || req.Kind != KindCommand || workflow.KindOf(err) != workflow.Unavailable || b.cfg.StoreRetry <= 0 {
			return err
		}
		if time.Now().Add(wait).After(deadline) {
			return err
		}
		if !req.toldRetrying {
			req.toldRetrying = true
			b.send(ctx, req, textReply(fmt.Sprintf(":hourglass: %s Retrying for up to %s; nothing has been done yet.",
				sentence(workflow.UserMessage(err)), shortDuration(b.cfg.StoreRetry))))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// shortDuration prints d to the second, without a trailing "0s" after
// minutes (1m, 1m30s, 45s).
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	return s
}
