package bot

import (
	"context"
)

type originKey struct{}

// withOrigin records in ctx where req came from, so that the Notifier
// tells an env's people in that channel when no announce channel is set.
func withOrigin(ctx context.Context, req *Request) context.Context {
	return context.WithValue(ctx, originKey{}, Origin{Channel: req.Channel, User: req.User.ID})
}

func originOf(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return o
}
