package main

import (
	"context"

	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/workflow"
)

// openStore returns the workflow's shared state: Redis when redis.url is
// set (the password from REDIS_PASSWORD), else an in-memory store whose
// state dies with the process. close releases it.
func openStore(ctx context.Context, cfg config) (st workflow.Store, close func(), err error) {
	if cfg.Redis.URL == "" {
		return redactingStore{store.NewMemory(workflow.SystemClock{}), cfg.secrets}, func() {}, nil
	}
	r, err := store.DialRedis(ctx, cfg.Redis.URL, cfg.RedisPassword, store.RedisOptions{Prefix: cfg.Redis.Prefix})
	if err != nil {
		return nil, nil, err
	}
	return redactingStore{r, cfg.secrets}, func() { r.Close() }, nil
}
