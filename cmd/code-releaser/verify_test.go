package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReleaseVerification releases a ticket whose spec asks dev to
// answer on /health after the deploy: the release shows the verification
// as it runs, succeeds when dev answers 200, and fails with the reason
// when it does not.
func TestReleaseVerification(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		code   int
		want   []string
	}{
		{"healthy", 200, 0, []string{"verifying 1 check(s): health", "verify:health passed: GET", "verified  1 check(s) passed", "released JIRA-7 to dev", "2 created, 1 check(s) verified"}},
		{"down", 503, 1, []string{"verifying 1 check(s): health", "verify:health FAILED: GET", "JIRA-7 to dev failed: the deploy of", "verification health failed: GET " + "%s/health: want 200, answered 503 Service Unavailable after 2 tries"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tc.status) }))
			defer app.Close()
			_, w, dir := deployWorld(t, "")
			w.Branch(t, "JIRA-7", "master")
			w.Commit(t, "JIRA-7: check dev's health", map[string]string{
				"code-releaser.yml": "stacks:\n  net: {name: \"{env}-net\", template: net.yml}\n  app: {name: \"{env}-app\", template: app.yml}\n" +
					"envs:\n  dev:\n    verify:\n      - name: health\n        http: {url: \"" + app.URL + "/health\", retries: 1, interval: 10ms}\n",
			})
			w.Push(t, "JIRA-7")
			code, out, errs := runCLI(t, dir, nil, "release", "JIRA-7", "dev", "--as", "alice", "--config", "c.yml")
			all := out + errs
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			for _, want := range tc.want {
				want = strings.ReplaceAll(want, "%s", app.URL)
				if !strings.Contains(all, want) {
					t.Errorf("output lacks %q:\n%s", want, all)
				}
			}
		})
	}
}
