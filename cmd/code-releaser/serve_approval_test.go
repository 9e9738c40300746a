package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/bot/slacktest"
)

// TestServeStopsAtOnceWithPendingApproval: serve without redis.url gets
// SIGTERM while a prod release waits for its approval. The release is
// not work in flight: serve exits without the 30 s drain, and since no
// other replica could ever count the votes, the request's message says it
// lapsed and how to ask again, without its buttons, and the release's
// message says so too.
func TestServeStopsAtOnceWithPendingApproval(t *testing.T) {
	ctx := timeoutCtx(t, 60*time.Second)
	dir := t.TempDir()
	remote, work, err := buildDemoRemote(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"checkout", "-q", "master"}, {"merge", "-q", "--no-ff", "-m", "Merge JIRA-1", "JIRA-1"}, {"push", "-q", remote, "master"}} {
		if _, err := demoGit(ctx, work, args...); err != nil {
			t.Fatal(err)
		}
	}
	const approvals = "C0APPROVE"
	cfg := filepath.Join(dir, "c.yml")
	body := fmt.Sprintf("repo: {url: %q, cache_dir: %q}\nslack: {announce_channel: %s, approvals_channel: %s}\n"+
		"environments: [{name: dev}, {name: prod, production: true, approvals: {required: 1, approvers: [U0BEN]}}]\n",
		"file://"+filepath.ToSlash(remote), filepath.Join(dir, "cache"), slacktest.Channel, approvals)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	slack := slacktest.NewServer(slacktest.WithPingInterval(200 * time.Millisecond))
	defer slack.Close()
	var stdout, stderr syncBuffer
	getenv := func(k string) string {
		return map[string]string{"SLACK_BOT_TOKEN": "xoxb-t", "SLACK_APP_TOKEN": "xapp-t", "SLACK_API_URL": slack.URL, "HOME": dir}[k]
	}
	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan int, 1)
	go func() {
		done <- run(serveCtx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0"}, &env{stdout: &stdout, stderr: &stderr, getenv: getenv, dir: dir})
	}()
	defer func() {
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr.String())
		}
	}()
	if err := slack.WaitConnections(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := slack.Send(slack.SlashCommand("U0ANA", "JIRA-1 prod"), 0); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "the approval request", func() bool {
		ms := slack.Messages(approvals)
		return len(ms) > 0 && strings.Contains(ms[0].Blocks, "release_approve")
	})

	stop() // SIGTERM
	stopped := time.Now()
	select {
	case code := <-done:
		t.Logf("serve exited %d, %v after the signal", code, time.Since(stopped))
		if code != 0 {
			t.Errorf("serve exited %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after the signal: it drained a release waiting for a person")
	}
	m := slack.Messages(approvals)[0]
	if !strings.Contains(m.Text, "The request is *lapsed*") || !strings.Contains(m.Text, "ask again with `/release JIRA-1 prod`") || strings.Contains(m.Blocks, "release_approve") {
		t.Errorf("the approval request after the stop: %q, blocks %s; want it lapsed, saying how to ask again, without buttons", m.Text, m.Blocks)
	}
	var release string
	for _, x := range slack.Messages(slacktest.Channel) {
		if x.Thread == "" && strings.Contains(x.Text, "*JIRA-1* to *prod*") {
			release = x.Text
		}
	}
	if !strings.Contains(release, "ask for the release of JIRA-1 to prod again") {
		t.Errorf("the release's message after the stop: %q; want it to say the request lapsed and how to ask again", release)
	}
}
