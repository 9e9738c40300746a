package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/bot/slacktest"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeTokens(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yml")
	if err := os.WriteFile(cfg, []byte("repo: {url: file:///nowhere.git}\nenvironments: [{name: dev}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "SLACK_BOT_TOKEN is not set"},
		{map[string]string{"SLACK_BOT_TOKEN": "xoxp-user", "SLACK_APP_TOKEN": "xapp-1"}, "must start with xoxb-"},
		{map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}, "must start with xapp-"},
	} {
		code, _, stderr := runCLI(t, dir, func(k string) string { return tc.env[k] }, "serve", "--config", cfg)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("serve with %v: exit %d, %q; want 1 and %q", tc.env, code, stderr, tc.want)
		}
		if strings.Contains(stderr, "xoxp-user") || strings.Contains(stderr, "xoxb-2") {
			t.Errorf("serve printed a token: %q", stderr)
		}
	}
}

// TestServe runs the bot against the local Slack: a release from a slash
// command, health, readiness, metrics, and a graceful stop.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	remote, _, err := buildDemoRemote(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.yml")
	body := fmt.Sprintf("repo: {url: %q, cache_dir: %q}\nslack: {announce_channel: %s}\nenvironments: [{name: dev}, {name: prod, production: true}]\n",
		"file://"+filepath.ToSlash(remote), filepath.Join(dir, "cache"), slacktest.Channel)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	slack := slacktest.NewServer(slacktest.WithPingInterval(200*time.Millisecond), slacktest.WithTokens("xoxb-serve-test", "xapp-serve-test"))
	defer slack.Close()

	var stdout, stderr syncBuffer
	getenv := func(k string) string {
		return map[string]string{"SLACK_BOT_TOKEN": "xoxb-serve-test", "SLACK_APP_TOKEN": "xapp-serve-test", "SLACK_API_URL": slack.URL, "HOME": dir}[k]
	}
	serveCtx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		done <- run(serveCtx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0"}, &env{stdout: &stdout, stderr: &stderr, getenv: getenv, dir: dir})
	}()
	defer func() {
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr.String())
		}
	}()

	var base string
	addr := regexp.MustCompile(`http://(\S+)`)
	for base == "" {
		if m := addr.FindStringSubmatch(stdout.String()); m != nil {
			base = "http://" + m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d before listening", code)
		case <-ctx.Done():
			t.Fatal("serve never listened")
		case <-time.After(10 * time.Millisecond):
		}
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if err := slack.WaitConnections(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for {
		if code, _ := get("/readyz"); code == 200 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("never ready")
		}
		time.Sleep(10 * time.Millisecond)
	}

	id, err := slack.Send(slack.SlashCommand("U0ANA", "jira-1 to Dev"), 0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := slack.WaitAck(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ack latency through serve: %v", a.Latency)
	var released bool
	for !released && ctx.Err() == nil {
		for _, m := range slack.Messages(slacktest.Channel) {
			released = released || strings.Contains(m.Text, "released *JIRA-1* to *dev*")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !released {
		t.Fatalf("no announcement; messages: %+v", slack.Messages(""))
	}
	if _, m := get("/metrics"); !strings.Contains(m, `code_releaser_slack_envelopes_total{outcome="ok",type="slash_commands"} 1`) ||
		!strings.Contains(m, "code_releaser_slack_ack_seconds_bucket") {
		t.Errorf("/metrics lacks the envelope counts:\n%s", m)
	}

	stop() // SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d after the signal", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after the signal")
	}
}
