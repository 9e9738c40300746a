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

// epochRotate: KEYS: the epoch key. ARGV: the value seen, a new one. Sets
// the new value if the key still holds the one seen; returns the value it
// holds after.
var epochRotate = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return ARGV[2]
end
return redis.call('GET', KEYS[1])
`)

// Epoch implements workflow.Epochs with one SET NX GET on the prefix's
// epoch key: it has no TTL, so only a loss of the data removes it.
//
// In a cluster that key lives on one shard, and another shard can lose
// its data alone (a primary restarted empty, and its replica synced from
// it). So each env of RedisOptions.EpochEnvs has a marker in its own hash
// slot ({env}:epoch, SET NX, no TTL), and a marker this store saw and
// finds gone means that env's shard lost its data: the epoch key is
// rotated (compare and set) to a new value, which every process notices
// as a new epoch. A marker never seen (a new env, a process started
// after the loss) is only written.
func (s *Redis) Epoch(ctx context.Context) (string, bool, error) {
	const op = "store.epoch"
	key := s.opts.Prefix + "epoch"
	want := newEpoch()
	cur, err := s.rdb.SetArgs(ctx, key, want, redis.SetArgs{Mode: "NX", Get: true}).Result()
	created := errors.Is(err, redis.Nil)
	switch {
	case created:
		cur = want
	case err != nil:
		return "", false, fail(op, err)
	}
	if len(s.opts.EpochEnvs) == 0 {
		return cur, created, nil
	}
	// What this store had seen before it looked: a marker another
	// caller finds present after this call created it must not count.
	s.epochMu.Lock()
	seen := make(map[string]bool, len(s.epochSeen))
	for env := range s.epochSeen {
		seen[env] = true
	}
	s.epochMu.Unlock()
	marks := make([]*redis.BoolCmd, len(s.opts.EpochEnvs))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, env := range s.opts.EpochEnvs {
			marks[i] = p.SetNX(ctx, s.envKey(env, "epoch"), 1, 0)
		}
		return nil
	})
	if err != nil {
		return "", false, fail(op, err)
	}
	lost := false
	s.epochMu.Lock()
	for i, env := range s.opts.EpochEnvs {
		if marks[i].Val() && seen[env] {
			lost = true
		}
		s.epochSeen[env] = true
	}
	s.epochMu.Unlock()
	if !lost || created {
		return cur, created, nil
	}
	next := newEpoch()
	now, err := epochRotate.Run(ctx, s.rdb, []string{key}, cur, next).Text()
	if err != nil {
		return "", false, fail(op, err)
	}
	return now, now == next, nil
}
