package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// A wiring that fails after it opened the mirror and the store (serve's
// Jira preflight with a token Jira refuses) releases them: the next
// command on the same cache dir opens the mirror at once instead of
// waiting for its lock.
func TestWireReleasesWhatItOpenedOnFailure(t *testing.T) {
	_, dir, srv := jiraFixture(t, "")
	refused := func(k string) string {
		if k == "JIRA_API_TOKEN" {
			return "not-the-token"
		}
		return ""
	}
	cfg, err := loadConfig("code-releaser.yml", dir, refused)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	cli := wireOptions{notifier: func(workflow.Store) workflow.Notifier { return workflow.NopNotifier{} }}
	serve := cli
	serve.serve = true
	if w, err := wire(t.Context(), log, cfg, serve); err == nil {
		w.close()
		t.Fatal("serve's wiring with a token Jira refuses succeeded")
	}
	if len(srv.Requests()) == 0 {
		t.Fatal("serve's wiring asked nothing of Jira: it did not get as far as the preflight")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	w, err := wire(ctx, log, cfg, cli) // no preflight: the token is not used
	if err != nil {
		t.Fatalf("the next wiring on the same cache dir: %v", err)
	}
	w.close()
}
