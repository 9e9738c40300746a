package store

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Redis replicates asynchronously: a primary that dies can take its last
// writes with it, and the replica promoted in its place (by Sentinel or
// by the cluster) never saw them. Two writes matter most, because losing
// them lets two workers run one env's job at once or run a finished job
// again: taking an env's lease and a release's final state. With
// RedisOptions.SyncReplicas set, the store writes those on one connection
// to the key's primary and then WAITs until that many replicas have them
// (at most SyncTimeout; a primary without replicas is not waited for).
// Everything else a failover may lose is rebuilt or redone: a lost
// journal step is done again (a push is a compare-and-swap and git says
// whether it landed), occupants are re-read from the env branch.

// onPrimary runs do on one connection to the primary serving key and,
// when do says it wrote, waits for the replicas. Without SyncReplicas, or
// on a client that is neither a single/Sentinel client nor a cluster
// client, do runs on the store's client and nothing is waited for.
func (s *Redis) onPrimary(ctx context.Context, key string, do func(c redis.Scripter) (wrote bool, err error)) (err error) {
	if s.opts.SyncReplicas <= 0 {
		_, err := do(s.rdb)
		return err
	}
	var node *redis.Client
	switch c := s.rdb.(type) {
	case *redis.Client:
		node = c
	case *redis.ClusterClient:
		if node, err = c.MasterForKey(ctx, key); err != nil {
			return err
		}
		defer func() {
			// A node's own client follows no MOVED: after a failover or
			// a resharding, refresh the slot map so that the next call
			// finds the key's primary.
			if err != nil && ctx.Err() == nil {
				c.ReloadState(ctx)
			}
		}()
	default:
		_, err := do(s.rdb)
		return err
	}
	conn := node.Conn()
	defer conn.Close()
	wrote, err := do(conn)
	if err != nil || !wrote {
		return err
	}
	s.waitReplicas(ctx, conn)
	return nil
}

// waitReplicas waits until SyncReplicas replicas (or all there are, when
// fewer) have conn's writes, at most SyncTimeout. It is best effort: the
// write is on the primary either way.
func (s *Redis) waitReplicas(ctx context.Context, conn *redis.Conn) {
	info, err := conn.Info(ctx, "replication").Result()
	if err != nil {
		return
	}
	n := connectedReplicas(info)
	if n == 0 {
		return
	}
	_ = conn.Wait(ctx, min(n, s.opts.SyncReplicas), s.opts.SyncTimeout).Err()
}

// connectedReplicas reads connected_slaves from INFO replication.
func connectedReplicas(info string) int {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}
