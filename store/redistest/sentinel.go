package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a primary, its replica and three sentinels watching them
// under one master name, all private redis-server processes (the
// sentinels run redis-server CONF --sentinel).
type Sentinel struct {
	Master    string    // the master name the sentinels know
	Data      []*Server // the primary first, then the replica (as started)
	Sentinels []*Server
	o         SentinelOptions
}

// SentinelOptions shape a Sentinel set-up; zero values take defaults.
type SentinelOptions struct {
	// DownAfter is down-after-milliseconds: how long the primary may be
	// unreachable before the sentinels fail over. Default 500ms.
	DownAfter time.Duration
	// Password of the primary and replica (requirepass, masterauth).
	Password string
	// SentinelPassword is the sentinels' own requirepass.
	SentinelPassword string
	// NoFailover: the test will not ask for a failover, so StartSentinel
	// does not wait until the sentinels know each other (their hello
	// messages take about 4 s).
	NoFailover bool
}

// StartSentinel starts the set-up in dir and waits until the replica is
// in sync and every sentinel knows the primary, the replica and the two
// other sentinels.
func StartSentinel(dir string, o SentinelOptions) (*Sentinel, error) {
	if o.DownAfter == 0 {
		o.DownAfter = 500 * time.Millisecond
	}
	st := &Sentinel{Master: "mymaster", o: o}
	sub := func(name string) (string, error) {
		d := filepath.Join(dir, name)
		return d, os.MkdirAll(d, 0o700)
	}
	d, err := sub("primary")
	if err != nil {
		return nil, err
	}
	// DEBUG SLEEP on a data node lets a test hold its replication back;
	// a replica syncs at once (not after the default 5 s of waiting for
	// others).
	debug := []string{"--enable-debug-command", "local", "--repl-diskless-sync-delay", "0"}
	primary, err := Start(d, Options{Password: o.Password, Args: debug})
	if err != nil {
		return nil, err
	}
	st.Data = append(st.Data, primary)
	host, port, _ := net.SplitHostPort(primary.Addr)
	if d, err = sub("replica"); err == nil {
		var replica *Server
		replica, err = Start(d, Options{Password: o.Password, Args: append(debug, "--replicaof", host, port)})
		if err == nil {
			st.Data = append(st.Data, replica)
		}
	}
	if err != nil {
		st.Stop()
		return nil, err
	}
	for i := range 3 {
		d, err := sub("sentinel" + strconv.Itoa(i))
		if err != nil {
			st.Stop()
			return nil, err
		}
		conf := []string{
			fmt.Sprintf("sentinel monitor %s %s %s 2", st.Master, host, port),
			fmt.Sprintf("sentinel down-after-milliseconds %s %d", st.Master, o.DownAfter.Milliseconds()),
			fmt.Sprintf("sentinel failover-timeout %s %d", st.Master, 4*o.DownAfter.Milliseconds()+2000),
			fmt.Sprintf("sentinel parallel-syncs %s 1", st.Master),
		}
		if o.Password != "" {
			conf = append(conf, fmt.Sprintf("sentinel auth-pass %s %s", st.Master, o.Password))
		}
		if o.SentinelPassword != "" {
			conf = append(conf, "sentinel sentinel-pass "+o.SentinelPassword)
		}
		path := filepath.Join(d, "sentinel.conf")
		if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
			st.Stop()
			return nil, err
		}
		s, err := Start(d, Options{sentinelConf: path, Password: o.SentinelPassword})
		if err != nil {
			st.Stop()
			return nil, err
		}
		st.Sentinels = append(st.Sentinels, s)
	}
	if err := st.waitReady(30 * time.Second); err != nil {
		st.Stop()
		return nil, err
	}
	return st, nil
}

// waitReady waits until the replica is in sync and each sentinel knows a
// replica and two other sentinels.
func (st *Sentinel) waitReady(within time.Duration) error {
	deadline := time.Now().Add(within)
	ctx := context.Background()
	check := func(name string, ready func(ctx context.Context) (bool, error)) error {
		for {
			c, cancel := context.WithTimeout(ctx, time.Second)
			ok, err := ready(c)
			cancel()
			if ok {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not ready after %v (%v)", name, within, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	replica := redis.NewClient(&redis.Options{Addr: st.Data[1].Addr, Password: st.o.Password, MaxRetries: -1, MaintNotificationsConfig: noMaint()})
	defer replica.Close()
	err := check("replica "+st.Data[1].Addr, func(ctx context.Context) (bool, error) {
		info, err := replica.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up"), err
	})
	if err != nil {
		return err
	}
	for _, s := range st.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, Password: st.o.SentinelPassword, MaxRetries: -1})
		err := check("sentinel "+s.Addr, func(ctx context.Context) (bool, error) {
			m, err := sc.Master(ctx, st.Master).Result()
			if err != nil {
				return false, err
			}
			return m["num-slaves"] == "1" && (st.o.NoFailover || m["num-other-sentinels"] == "2"), fmt.Errorf("master %v", m)
		})
		sc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// SentinelAddrs are the sentinels' addresses.
func (st *Sentinel) SentinelAddrs() []string {
	var out []string
	for _, s := range st.Sentinels {
		out = append(out, s.Addr)
	}
	return out
}

// Client returns a client that finds the primary through the sentinels,
// closed when tb ends.
func (st *Sentinel) Client(tb testing.TB) *redis.Client {
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: st.Master, SentinelAddrs: st.SentinelAddrs(),
		Password: st.o.Password, SentinelPassword: st.o.SentinelPassword,
	})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

// Primary returns the data node the sentinels name as the primary now.
func (st *Sentinel) Primary(ctx context.Context) (*Server, error) {
	var last error
	for _, s := range st.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, Password: st.o.SentinelPassword, MaxRetries: -1})
		addr, err := sc.GetMasterAddrByName(ctx, st.Master).Result()
		sc.Close()
		if err != nil {
			last = err
			continue
		}
		for _, d := range st.Data {
			if d.Addr == net.JoinHostPort(addr[0], addr[1]) {
				return d, nil
			}
		}
		return nil, fmt.Errorf("the sentinels name %v, not one of the data nodes", addr)
	}
	return nil, fmt.Errorf("no sentinel answers: %w", last)
}

// WaitFailover waits until the sentinels name another primary than old
// and that one accepts writes, and returns it.
func (st *Sentinel) WaitFailover(ctx context.Context, old *Server, within time.Duration) (*Server, error) {
	deadline := time.Now().Add(within)
	for {
		p, err := st.Primary(ctx)
		if err == nil && p != old {
			rdb := redis.NewClient(&redis.Options{Addr: p.Addr, Password: st.o.Password, MaxRetries: -1, MaintNotificationsConfig: noMaint()})
			info, ierr := rdb.Info(ctx, "replication").Result()
			rdb.Close()
			if ierr == nil && strings.Contains(info, "role:master") {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no failover from %s after %v (primary %v, %v)", old.Addr, within, p, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops every process.
func (st *Sentinel) Stop() {
	for _, s := range append(st.Sentinels, st.Data...) {
		s.Stop()
	}
}

// DedicatedSentinel starts a Sentinel set-up of tb's own, stopped when tb
// ends, or skips (fails under CI) when redis-server is missing.
func DedicatedSentinel(tb testing.TB, o SentinelOptions) *Sentinel {
	tb.Helper()
	return dedicated(tb, func(dir string) (*Sentinel, error) { return StartSentinel(dir, o) })
}
