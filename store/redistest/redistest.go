// Package redistest runs private redis-server processes for tests: one
// shared per test binary (started on first use, stopped by Main), or
// dedicated ones that a test can restart. Servers listen on a free port on
// 127.0.0.1 with a working directory of their own.
//
// Without redis-server on PATH the tests that need it skip, saying why;
// under CI (CI=true) they fail instead, because CI installs it.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Server is one redis-server process.
type Server struct {
	Addr string // host:port
	dir  string
	o    Options

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Options of a dedicated server.
type Options struct {
	// Persist keeps the data across Restart (an append-only file synced
	// on every write), as a production server would.
	Persist bool
	// Password is the server's requirepass (and masterauth, for a
	// replica or a primary that may become one).
	Password string
	// Args are more redis-server options ("--cluster-enabled", "yes").
	Args []string

	// sentinelConf, when set, runs a sentinel with that config file.
	sentinelConf string
	// busPort: the port + 10000 (a cluster node's bus) must be free too.
	busPort bool
}

// Start starts a server working in dir.
func Start(dir string, o Options) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, err
	}
	var lastErr error
	for range 5 {
		port, err := freePort(o.busPort)
		if err != nil {
			return nil, err
		}
		s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir, o: o}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

// freePort returns a port free on 127.0.0.1, and with bus its port +
// 10000 too.
func freePort(bus bool) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !bus {
			l.Close()
			return port, nil
		}
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		l.Close()
		if err == nil {
			l2.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free port pair for a cluster node")
}

// start runs redis-server on s.Addr and waits until it answers.
func (s *Server) start() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	var args []string
	if s.o.sentinelConf != "" {
		args = append(args, s.o.sentinelConf, "--sentinel")
	}
	args = append(args, "--port", port, "--bind", "127.0.0.1", "--dir", s.dir)
	switch {
	case s.o.sentinelConf != "":
	case s.o.Persist:
		args = append(args, "--save", "", "--appendonly", "yes", "--appendfsync", "always")
	default:
		args = append(args, "--save", "", "--appendonly", "no")
	}
	if s.o.Password != "" {
		args = append(args, "--requirepass", s.o.Password)
		if s.o.sentinelConf == "" {
			args = append(args, "--masterauth", s.o.Password)
		}
	}
	args = append(args, s.o.Args...)
	cmd := exec.Command("redis-server", args...)
	cmd.Dir = s.dir
	log, err := os.OpenFile(s.dir+"/redis.log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		log.Close()
		close(done)
	}()
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, Password: s.o.Password, MaxRetries: -1, MaintNotificationsConfig: noMaint()})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			return fmt.Errorf("redis-server on %s exited at start (see %s/redis.log)", s.Addr, s.dir)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("redis-server on %s does not answer: %w", s.Addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// Stop ends the server (SIGTERM) and waits for it.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// Kill ends the server at once (SIGKILL), as a crashed host would, and
// waits for it.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Restart stops the server and starts it again on the same port, after
// down has passed. With Options.Persist the data survives.
func (s *Server) Restart(down time.Duration) error {
	s.Stop()
	time.Sleep(down)
	var err error
	for range 20 { // the port may linger a moment
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// Client returns a client of s closed when tb ends.
func (s *Server) Client(tb testing.TB) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, Password: s.o.Password, MaintNotificationsConfig: noMaint()})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

// Dedicated starts a server of tb's own, stopped when tb ends, or skips
// (fails under CI) when redis-server is missing.
func Dedicated(tb testing.TB, o Options) *Server {
	tb.Helper()
	return dedicated(tb, func(dir string) (*Server, error) { return Start(dir, o) })
}

// dedicated starts what start starts in a directory of tb's own, stopped
// when tb ends, or skips (fails under CI) when it cannot start.
func dedicated[T interface{ Stop() }](tb testing.TB, start func(dir string) (T, error)) T {
	tb.Helper()
	v, err := start(tb.TempDir())
	if err != nil {
		unavailable(tb, err)
	}
	tb.Cleanup(v.Stop)
	return v
}

// shared is the binary's shared server: a test binary is one process and
// Main owns its lifetime, so this is the one piece of package state.
var shared struct {
	once sync.Once
	srv  *Server
	dir  string
	err  error
}

// Shared returns the test binary's shared server, starting it on first
// use, or skips (fails under CI) when it cannot run. Tests sharing it keep
// apart by key prefix (see Prefix).
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "redistest-")
		if shared.err == nil {
			shared.srv, shared.err = Start(shared.dir, Options{})
		}
	})
	if shared.err != nil {
		unavailable(tb, shared.err)
	}
	return shared.srv
}

// Main runs the tests and stops the shared server if they started it:
// call it from TestMain as os.Exit(redistest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	return code
}

func unavailable(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, exec.ErrNotFound) {
		err = fmt.Errorf("redis-server is not installed (apt-get install redis-server): %w", err)
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI must run the Redis tests, but: %v", err)
	}
	tb.Skipf("skipping: no Redis to test against: %v", err)
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// Prefix returns a key prefix unique to tb, so that tests can share a
// server.
func Prefix(tb testing.TB) string {
	var b [4]byte
	rand.Read(b[:])
	name := unsafe.ReplaceAllString(tb.Name(), "_")
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	return "test:" + name + ":" + hex.EncodeToString(b[:]) + ":"
}

// noMaint leaves out go-redis's maintenance notifications, as the store's
// own clients do (see store.NoMaintNotifications): in its default "auto"
// mode, connections opened at once race on switching it off.
func noMaint() *maintnotifications.Config {
	return &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}
