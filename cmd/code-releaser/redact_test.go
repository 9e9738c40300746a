package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/workflow"
)

// TestRedactingTransport: what goes to Slack or Jira carries no secret,
// whether a form or JSON, but for the token the request authenticates
// with.
func TestRedactingTransport(t *testing.T) {
	const botToken, gitToken = "xoxb-1111-2222-botbotbot", "ghp_0123456789abcdefGITTOKEN"
	secrets := processSecrets(func(k string) string {
		return map[string]string{"SLACK_BOT_TOKEN": botToken, "GIT_TOKEN": gitToken}[k]
	})
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if int64(len(b)) != r.ContentLength {
			t.Errorf("Content-Length %d for a body of %d bytes", r.ContentLength, len(b))
		}
		bodies = append(bodies, string(b))
	}))
	defer srv.Close()
	hc := &http.Client{Transport: redactingTransport{secrets: secrets, keep: []string{"token"}}}
	form := url.Values{"token": {botToken}, "text": {"push failed: https://x:" + gitToken + "@git.example.com"},
		"blocks": {`[{"type":"section","text":{"type":"mrkdwn","text":"` + gitToken + `"}}]`}}
	if _, err := hc.PostForm(srv.URL, form); err != nil {
		t.Fatal(err)
	}
	if _, err := hc.Post(srv.URL, "application/json", strings.NewReader(`{"body":"deploy log: `+gitToken+` and `+botToken+`"}`)); err != nil {
		t.Fatal(err)
	}
	got, err := url.ParseQuery(bodies[0])
	if err != nil {
		t.Fatal(err)
	}
	if got.Get("token") != botToken {
		t.Errorf("the form's token field was changed: %q", got.Get("token"))
	}
	if strings.Contains(got.Get("text"), gitToken) || strings.Contains(got.Get("blocks"), gitToken) {
		t.Errorf("the form carries the git token: %v", got)
	}
	if !strings.Contains(got.Get("text"), workflow.Redacted) {
		t.Errorf("text = %q, want the token replaced", got.Get("text"))
	}
	if strings.Contains(bodies[1], gitToken) || strings.Contains(bodies[1], botToken) || !strings.Contains(bodies[1], workflow.Redacted) {
		t.Errorf("JSON body = %s", bodies[1])
	}
}

// TestRedactingStore: journals, errors and audit details are stored
// without secrets.
func TestRedactingStore(t *testing.T) {
	const token = "glpat-SECRETSECRET1234"
	st := redactingStore{store.NewMemory(workflow.SystemClock{}), processSecrets(func(k string) string {
		if k == "GIT_TOKEN" {
			return token
		}
		return ""
	})}
	ctx := context.Background()
	if err := st.CreateRelease(ctx, workflow.Release{ID: "r1", Env: "dev", State: workflow.StateQueued}); err != nil {
		t.Fatal(err)
	}
	_ = st.AppendStep(ctx, "r1", workflow.Step{Name: "fetched", Detail: "from https://" + token + "@git"})
	_ = st.UpdateRelease(ctx, "r1", workflow.ReleaseUpdate{State: workflow.StateFailed, Error: "auth " + token})
	_ = st.AppendEvent(ctx, workflow.Event{Env: "dev", Action: workflow.ActionFailed, Detail: token})
	rec, err := st.GetRelease(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := st.Events(ctx, "dev", 0)
	for _, s := range []string{rec.Steps[0].Detail, rec.Error, ev[0].Detail} {
		if strings.Contains(s, token) || !strings.Contains(s, workflow.Redacted) {
			t.Errorf("stored %q", s)
		}
	}
}
