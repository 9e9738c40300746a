package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of private redis-server processes
// (--cluster-enabled yes) joined by redis-cli --cluster create.
type Cluster struct {
	Nodes    []*Server // the primaries first, then their replicas
	password string
}

// ClusterOptions shape a cluster; zero values take the defaults.
type ClusterOptions struct {
	Primaries int // default 3 (the fewest redis-cli accepts)
	// Replicas per primary (default 0): with one, killing a primary
	// fails its slots over to its replica.
	Replicas int
	// NodeTimeout is cluster-node-timeout: how long a primary may be
	// unreachable before its replica takes over. Default 1s.
	NodeTimeout time.Duration
	Password    string
}

// StartCluster starts the nodes in dirs under dir, creates the cluster
// and waits until every node says cluster_state:ok and every replica is
// in sync.
func StartCluster(dir string, o ClusterOptions) (*Cluster, error) {
	if o.Primaries == 0 {
		o.Primaries = 3
	}
	if o.NodeTimeout == 0 {
		o.NodeTimeout = time.Second
	}
	if _, err := exec.LookPath("redis-cli"); err != nil {
		return nil, fmt.Errorf("redis-cli is needed to create a cluster: %w", err)
	}
	c := &Cluster{password: o.Password}
	n := o.Primaries * (1 + o.Replicas)
	for i := range n {
		d := filepath.Join(dir, "node"+strconv.Itoa(i))
		if err := os.MkdirAll(d, 0o700); err != nil {
			c.Stop()
			return nil, err
		}
		s, err := Start(d, Options{Password: o.Password, busPort: true, Args: []string{
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(o.NodeTimeout.Milliseconds(), 10),
			"--repl-diskless-sync-delay", "0", // replicas sync at once
		}})
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.Nodes = append(c.Nodes, s)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(o.Replicas), "--cluster-yes")
	cmd := exec.Command("redis-cli", args...)
	if o.Password != "" {
		cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+o.Password)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	if err := c.waitReady(30 * time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// waitReady waits until every node sees the cluster ok, knows every
// node, and every replica has synced with its primary.
func (c *Cluster) waitReady(within time.Duration) error {
	deadline := time.Now().Add(within)
	for _, s := range c.Nodes {
		rdb := redis.NewClient(&redis.Options{Addr: s.Addr, Password: c.password, MaxRetries: -1, MaintNotificationsConfig: noMaint()})
		for {
			ok, why := c.nodeReady(rdb)
			if ok {
				break
			}
			if time.Now().After(deadline) {
				rdb.Close()
				return fmt.Errorf("cluster node %s not ready after %v: %s", s.Addr, within, why)
			}
			time.Sleep(20 * time.Millisecond)
		}
		rdb.Close()
	}
	return nil
}

func (c *Cluster) nodeReady(rdb *redis.Client) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := rdb.ClusterInfo(ctx).Result()
	if err != nil {
		return false, err.Error()
	}
	if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d\r", len(c.Nodes))) {
		return false, info
	}
	repl, err := rdb.Info(ctx, "replication").Result()
	if err != nil {
		return false, err.Error()
	}
	if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
		return false, repl
	}
	return true, ""
}

// Addrs are the nodes' addresses.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, s := range c.Nodes {
		out = append(out, s.Addr)
	}
	return out
}

// Client returns a cluster client of c closed when tb ends. It re-reads
// the slot map every second (see store.ClusterReload).
func (c *Cluster) Client(tb testing.TB) *redis.ClusterClient {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), Password: c.password, ClusterStateReloadInterval: time.Second, MaintNotificationsConfig: noMaint()})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

// PrimaryOf returns the node serving key's slot now.
func (c *Cluster) PrimaryOf(ctx context.Context, key string) (*Server, error) {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), Password: c.password, MaintNotificationsConfig: noMaint()})
	defer rdb.Close()
	m, err := rdb.MasterForKey(ctx, key)
	if err != nil {
		return nil, err
	}
	for _, s := range c.Nodes {
		if s.Addr == m.Options().Addr {
			return s, nil
		}
	}
	return nil, fmt.Errorf("no node of the cluster at %s", m.Options().Addr)
}

// Stop stops every node.
func (c *Cluster) Stop() {
	for _, s := range c.Nodes {
		s.Stop()
	}
}

// DedicatedCluster starts a cluster of tb's own, stopped when tb ends, or
// skips (fails under CI) when redis-server or redis-cli is missing.
func DedicatedCluster(tb testing.TB, o ClusterOptions) *Cluster {
	tb.Helper()
	return dedicated(tb, func(dir string) (*Cluster, error) { return StartCluster(dir, o) })
}
