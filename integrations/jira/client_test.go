package jira

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/integrations/jira/jiratest"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/google/go-cmp/cmp"
)

// sleeps records the waits of a client instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func (s *sleeps) waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// setup starts a local Jira of flavour f and a client on it.
func setup(t *testing.T, f jiratest.Flavor, edit ...func(*Config)) (*Client, *jiratest.Server, *sleeps) {
	t.Helper()
	srv := jiratest.New(f)
	t.Cleanup(srv.Close)
	cfg := Config{URL: srv.URL, Token: jiratest.PAT}
	if f == jiratest.Cloud {
		cfg.Email, cfg.Token = jiratest.Email, jiratest.APIToken
	}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := New(nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sl := &sleeps{}
	c.sleep = sl.sleep
	return c, srv, sl
}

func TestPreflight(t *testing.T) {
	tests := []struct {
		name   string
		flavor jiratest.Flavor
		edit   func(*Config, *jiratest.Server)
		want   Identity
	}{
		{"cloud", jiratest.Cloud, nil,
			Identity{DisplayName: "Mia Krystof", AccountID: "5b10a2844c20165700ede21g", Email: "mia@example.com"}},
		{"cloud gateway", jiratest.Cloud, func(c *Config, s *jiratest.Server) { c.URL = s.GatewayURL() },
			Identity{DisplayName: "Mia Krystof", AccountID: "5b10a2844c20165700ede21g", Email: "mia@example.com"}},
		{"data center", jiratest.DataCenter, nil,
			Identity{DisplayName: "Fred F. User", Name: "fred", Email: "fred@example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := jiratest.New(tt.flavor)
			defer srv.Close()
			cfg := Config{URL: srv.URL, Token: jiratest.PAT}
			if tt.flavor == jiratest.Cloud {
				cfg.Email, cfg.Token = jiratest.Email, jiratest.APIToken
			}
			if tt.edit != nil {
				tt.edit(&cfg, srv)
			}
			c, err := New(nil, cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Preflight(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 || reqs[0].Path != "/rest/api/2/myself" {
				t.Errorf("requests = %+v, want one GET /rest/api/2/myself", reqs)
			}
		})
	}
}

func TestPreflightBadCredentials(t *testing.T) {
	for _, f := range []jiratest.Flavor{jiratest.Cloud, jiratest.DataCenter} {
		c, _, _ := setup(t, f, func(c *Config) { c.Token = "expired-token" })
		_, err := c.Preflight(t.Context())
		if workflow.KindOf(err) != workflow.Unavailable || !strings.Contains(workflow.UserMessage(err), "JIRA_API_TOKEN") {
			t.Errorf("flavour %d: err = %v (kind %v), want Unavailable naming JIRA_API_TOKEN", f, err, workflow.KindOf(err))
		}
		if strings.Contains(err.Error(), "expired-token") {
			t.Errorf("the token leaked into the error: %v", err)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // in the error; "" valid
	}{
		{"cloud", Config{URL: "https://acme.atlassian.net", Email: "bot@acme.com", Token: "t"}, ""},
		{"gateway", Config{URL: "https://api.atlassian.com/ex/jira/1234-abcd", Email: "bot@acme.com", Token: "t"}, ""},
		{"server with context path", Config{URL: "https://jira.acme.com/jira", Token: "t"}, ""},
		{"local http", Config{URL: "http://127.0.0.1:8080", Token: "t"}, ""},
		{"no url", Config{Token: "t"}, "jira.url is required"},
		{"remote http", Config{URL: "http://jira.acme.com", Token: "t"}, "https"},
		{"credentials in url", Config{URL: "https://bot:secret@jira.acme.com", Token: "t"}, "credentials"},
		{"query", Config{URL: "https://jira.acme.com/?x=1", Token: "t"}, "query"},
		{"gateway without cloud id", Config{URL: "https://api.atlassian.com/ex/jira/", Email: "b@a.com", Token: "t"}, "cloudId"},
		{"cloud without email", Config{URL: "https://acme.atlassian.net", Token: "t"}, "jira.email"},
		{"no token", Config{URL: "https://acme.atlassian.net", Email: "b@a.com"}, "JIRA_API_TOKEN"},
		{"token with newline", Config{URL: "https://jira.acme.com", Token: "abc\n"}, "blanks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(nil, tt.cfg)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("New = %v, want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("secret in error: %v", err)
			}
		})
	}
	// The gateway serves no pages: no browse URL unless configured.
	c, err := New(nil, Config{URL: "https://api.atlassian.com/ex/jira/1234", Email: "b@a.com", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.browseURL("OPS-1"); got != "" {
		t.Errorf("gateway browse URL = %q, want none", got)
	}
	if s := (Config{Token: "very-secret"}).String(); strings.Contains(s, "very-secret") {
		t.Errorf("String shows the token: %s", s)
	}
}

func TestLookup(t *testing.T) {
	for _, f := range []jiratest.Flavor{jiratest.Cloud, jiratest.DataCenter} {
		c, srv, _ := setup(t, f)
		srv.Put(jiratest.Issue{Key: "OPS-7", Summary: "Open port 443", Type: "Story", Status: "In Review", StatusCategory: "indeterminate", Assignee: "Ana Lima"})
		got, err := c.Lookup(t.Context(), "OPS-7")
		if err != nil {
			t.Fatal(err)
		}
		want := workflow.Ticket{
			Key: "OPS-7", Summary: "Open port 443", Type: "Story", Status: "In Review", StatusCategory: "indeterminate",
			Assignee: "Ana Lima", URL: srv.URL + "/browse/OPS-7",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("flavour %d: ticket (-want +got):\n%s", f, diff)
		}
		reqs := srv.Requests()
		if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Path != "/rest/api/2/issue/OPS-7" || reqs[0].Query != "fields=summary,issuetype,status,assignee" {
			t.Errorf("requests = %+v", reqs)
		}
	}
	// Unassigned.
	c, srv, _ := setup(t, jiratest.Cloud)
	srv.Put(jiratest.Issue{Key: "OPS-8", Summary: "x"})
	got, err := c.Lookup(t.Context(), "OPS-8")
	if err != nil || got.Assignee != "" || got.StatusCategory != "new" || got.Status != "To Do" || got.Type != "Task" {
		t.Errorf("Lookup = %+v, %v", got, err)
	}
}

// TestLookupBadKeys: keys are checked before any HTTP request.
func TestLookupBadKeys(t *testing.T) {
	c, srv, _ := setup(t, jiratest.Cloud)
	srv.Put(jiratest.Issue{Key: "OPS-1", Summary: "one"})
	// Lower case is forgiven by ParseTicketKey.
	got, err := c.Lookup(t.Context(), "ops-1")
	if err != nil || got.Key != "OPS-1" {
		t.Fatalf("Lookup(ops-1) = %+v, %v", got, err)
	}
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Path != "/rest/api/2/issue/OPS-1" {
		t.Fatalf("requests = %+v", reqs)
	}
	bad := []string{
		"OPS 1", "OPS-1 2", "OPS-١", "OPS-" + strings.Repeat("1", 196), "../OPS-1", "OPS-1/../../myself",
		"OPS-1%2F..%2Fmyself", "OPS%2F1", "OPS-1?fields=*all", "OPS-1#x", "", "-1", "OPS-01", "OPS-1\n2",
		"ОPS-1", // Cyrillic О
	}
	for _, k := range bad {
		_, err := c.Lookup(t.Context(), workflow.TicketKey(k))
		if workflow.KindOf(err) != workflow.Invalid {
			t.Errorf("Lookup(%q) = %v, want Invalid", k, err)
		}
		_, err = c.Record(t.Context(), workflow.TicketNote{Release: workflow.Release{Ticket: workflow.TicketKey(k), Env: "dev"}})
		if workflow.KindOf(err) != workflow.Invalid {
			t.Errorf("Record(%q) = %v, want Invalid", k, err)
		}
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests after bad keys, want none beyond the first: %+v", n, srv.Requests()[1:])
	}
}

func TestHTTPErrors(t *testing.T) {
	tests := []struct {
		name   string
		fault  *jiratest.Fault
		key    workflow.TicketKey
		token  string
		kind   workflow.Kind
		msg    string // in the user message
		down   bool
		status int
	}{
		{name: "400", fault: &jiratest.Fault{Status: 400, Body: `{"errorMessages":["Field 'x' does not exist."],"errors":{}}`},
			kind: workflow.Invalid, msg: "Field 'x' does not exist.", status: 400},
		{name: "401 bad token", token: "wrong", kind: workflow.Unavailable, msg: "JIRA_API_TOKEN", status: 401},
		{name: "403", fault: &jiratest.Fault{Status: 403, Body: `{"errorMessages":["You do not have the permission to see the specified issue."],"errors":{}}`},
			kind: workflow.Forbidden, msg: "a Jira admin must grant", status: 403},
		{name: "404", key: "OPS-404", kind: workflow.NotFound, msg: "OPS-404 does not exist in Jira, or Code-Releaser's Jira account cannot see it", status: 404},
		{name: "410", fault: &jiratest.Fault{Status: 410}, kind: workflow.Unavailable, msg: "Code-Releaser needs an update", status: 410},
		{name: "429 too long", fault: &jiratest.Fault{Status: 429, Header: http.Header{"Retry-After": {"90"}}},
			kind: workflow.Unavailable, msg: "try again in 1m30s", down: true, status: 429},
		{name: "500", fault: &jiratest.Fault{Status: 500}, kind: workflow.Unavailable, msg: "Jira is not working right now (HTTP 500)", down: true, status: 500},
		{name: "502 html", fault: &jiratest.Fault{Status: 502, Body: "<html>Bad gateway</html>"}, kind: workflow.Unavailable, msg: "HTTP 502", down: true, status: 502},
		{name: "503", fault: &jiratest.Fault{Status: 503}, kind: workflow.Unavailable, msg: "HTTP 503", down: true, status: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv, sl := setup(t, jiratest.Cloud, func(c *Config) {
				if tt.token != "" {
					c.Token = tt.token
				}
			})
			srv.Put(jiratest.Issue{Key: "OPS-1", Summary: "one"})
			if tt.fault != nil {
				srv.Inject(*tt.fault)
			}
			key := tt.key
			if key == "" {
				key = "OPS-1"
			}
			_, err := c.Lookup(t.Context(), key)
			if got := workflow.KindOf(err); got != tt.kind {
				t.Errorf("kind = %v, want %v (err %v)", got, tt.kind, err)
			}
			if msg := workflow.UserMessage(err); !strings.Contains(msg, tt.msg) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.msg)
			}
			if got := isDown(err); got != tt.down {
				t.Errorf("isDown = %v, want %v", got, tt.down)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.Status != tt.status {
				t.Errorf("StatusError = %+v, want status %d", se, tt.status)
			}
			// 503 on a read is retried (without Retry-After: 1s, 2s); nothing else is.
			wantWaits := 0
			if tt.status == 503 {
				wantWaits = 2
			}
			if w := sl.waits(); len(w) != wantWaits {
				t.Errorf("waits = %v, want %d", w, wantWaits)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		c, srv, _ := setup(t, jiratest.Cloud)
		srv.Close()
		_, err := c.Lookup(t.Context(), "OPS-1")
		if workflow.KindOf(err) != workflow.Unavailable || !isDown(err) || !strings.Contains(workflow.UserMessage(err), "cannot be reached") {
			t.Errorf("err = %v (kind %v, down %v)", err, workflow.KindOf(err), isDown(err))
		}
	})
	t.Run("cancelled is not down", func(t *testing.T) {
		c, _, _ := setup(t, jiratest.Cloud)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := c.Lookup(ctx, "OPS-1")
		if workflow.KindOf(err) != workflow.Unavailable || isDown(err) {
			t.Errorf("err = %v (down %v), want Unavailable and not down", err, isDown(err))
		}
	})
}

func TestRetryAfter(t *testing.T) {
	c, srv, sl := setup(t, jiratest.Cloud)
	srv.Put(jiratest.Issue{Key: "OPS-1", Summary: "one"})
	srv.Inject(jiratest.Fault{Path: "/issue/OPS-1", Status: 429, Header: http.Header{"Retry-After": {"3"}}, Times: 2})
	if _, err := c.Lookup(t.Context(), "OPS-1"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]time.Duration{3 * time.Second, 3 * time.Second}, sl.waits()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}

	// More 429s than retries: the error says when to come back.
	srv.Inject(jiratest.Fault{Path: "/issue/OPS-1", Status: 429, Header: http.Header{"Retry-After": {"2"}}, Times: 5})
	_, err := c.Lookup(t.Context(), "OPS-1")
	if !strings.Contains(workflow.UserMessage(err), "try again in 2s") {
		t.Errorf("err = %v", err)
	}

	// A comment is retried on 429 (not processed) but not on 503.
	c2, srv2, sl2 := setup(t, jiratest.Cloud)
	srv2.Put(jiratest.Issue{Key: "OPS-1", Summary: "one"})
	srv2.Inject(jiratest.Fault{Path: "/comment", Status: 503, Times: 1})
	if err := c2.comment(t.Context(), "OPS-1", "hi"); workflow.KindOf(err) != workflow.Unavailable {
		t.Errorf("comment after 503 = %v", err)
	}
	if len(sl2.waits()) != 0 || len(srv2.Comments("OPS-1")) != 0 {
		t.Errorf("a POST was retried after a 503: waits %v", sl2.waits())
	}
	srv2.Inject(jiratest.Fault{Path: "/comment", Status: 429, Header: http.Header{"Retry-After": {"1"}}, Times: 1})
	if err := c2.comment(t.Context(), "OPS-1", "hi"); err != nil {
		t.Errorf("comment after 429 = %v", err)
	}
	if got := srv2.Comments("OPS-1"); len(got) != 1 {
		t.Errorf("comments = %q, want one", got)
	}

	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Fri, 02 Jan 2026 15:04:35 GMT": 30 * time.Second,
		"Fri, 02 Jan 2026 15:00:00 GMT": 0,
	} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestAllowUnvalidated(t *testing.T) {
	tests := []struct {
		name       string
		fault      jiratest.Fault
		token      string
		unverified bool
		kind       workflow.Kind
	}{
		{"503", jiratest.Fault{Status: 503}, "", true, 0},
		{"429", jiratest.Fault{Status: 429, Header: http.Header{"Retry-After": {"600"}}}, "", true, 0},
		{"401 refuses", jiratest.Fault{}, "wrong", false, workflow.Unavailable},
		{"403 refuses", jiratest.Fault{Status: 403}, "", false, workflow.Forbidden},
		{"404 refuses", jiratest.Fault{Status: 404}, "", false, workflow.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv, _ := setup(t, jiratest.Cloud, func(c *Config) {
				c.AllowUnvalidated = true
				if tt.token != "" {
					c.Token = tt.token
				}
			})
			srv.Put(jiratest.Issue{Key: "OPS-1", Summary: "one"})
			if tt.fault.Status != 0 {
				srv.Inject(tt.fault)
			}
			got, err := c.Lookup(t.Context(), "OPS-1")
			if tt.unverified {
				if err != nil || got.Key != "OPS-1" || !strings.Contains(got.Unverified, "not validated") || got.StatusCategory != "" {
					t.Errorf("Lookup = %+v, %v; want an unverified ticket", got, err)
				}
				return
			}
			if workflow.KindOf(err) != tt.kind {
				t.Errorf("Lookup = %+v, %v; want kind %v", got, err, tt.kind)
			}
		})
	}
}
