package store

import (
	"context"
	"encoding/json"
	"errors"

	"time"

	"github.com/redis/go-redis/v9"

	"github.com/code-releaser/code-releaser/workflow"
)

// A message ref is one JSON string under msg:KEY, written with SET PX.
func (s *Redis) messageKey(key string) string { return s.opts.Prefix + "msg:" + key }

// PutMessageRef implements workflow.MessageRefs.
func (s *Redis) PutMessageRef(ctx context.Context, key string, ref workflow.MessageRef, ttl time.Duration) error {
	const op = "store.message"
	if key == "" || ttl <= 0 {
		return workflow.Errorf(op, workflow.Invalid, "a message ref needs a key and a positive TTL")
	}
	data, err := json.Marshal(ref)
	if err != nil {
		return workflow.Wrap(op, workflow.Internal, "cannot encode", err)
	}
	if err := s.rdb.Set(ctx, s.messageKey(key), data, ttl).Err(); err != nil {
		return fail(op, err)
	}
	return nil
}

// GetMessageRef implements workflow.MessageRefs.
func (s *Redis) GetMessageRef(ctx context.Context, key string) (workflow.MessageRef, bool, error) {
	const op = "store.message"
	data, err := s.rdb.Get(ctx, s.messageKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return workflow.MessageRef{}, false, nil
	}
	if err != nil {
		return workflow.MessageRef{}, false, fail(op, err)
	}
	var ref workflow.MessageRef
	if err := json.Unmarshal(data, &ref); err != nil {
		return workflow.MessageRef{}, false, workflow.Wrap(op, workflow.Internal, "a message ref in Redis is damaged", err)
	}
	return ref, true, nil
}
