package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/redis/go-redis/v9"
)

// newEpoch returns a random epoch value.
func newEpoch() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Epoch implements workflow.Epochs with one SET NX GET on the prefix's
// epoch key: it has no TTL, so only a loss of the data removes it.
func (s *Redis) Epoch(ctx context.Context) (string, bool, error) {
	want := newEpoch()
	old, err := s.rdb.SetArgs(ctx, s.opts.Prefix+"epoch", want, redis.SetArgs{Mode: "NX", Get: true}).Result()
	if errors.Is(err, redis.Nil) {
		return want, true, nil
	}
	if err != nil {
		return "", false, fail("store.epoch", err)
	}
	return old, false, nil
}
