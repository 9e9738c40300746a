package jira

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/integrations/jira/jiratest"
	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

// world is the release workflow on the fake repo, the in-memory store and
// the client against a local Jira, with write-back.
type world struct {
	svc   *workflow.Service
	repo  *workflowtest.Repo
	notes *workflowtest.Notifier
	dep   *workflowtest.Deployer
	jira  *jiratest.Server
}

var ana = workflow.User{ID: "U1", Name: "ana"}

// linkedNotifier is the fake notifier with a Slack-like thread link.
type linkedNotifier struct{ *workflowtest.Notifier }

func (linkedNotifier) ReleaseLink(_ context.Context, r workflow.Release) string {
	return "https://acme.slack.com/archives/C1/p" + r.ID
}

func newWorld(t *testing.T, policy workflow.TicketPolicy, edit ...func(*Config)) *world {
	t.Helper()
	c, srv, _ := setup(t, jiratest.Cloud, edit...)
	w := &world{repo: workflowtest.NewRepo(), notes: &workflowtest.Notifier{}, dep: &workflowtest.Deployer{}, jira: srv}
	var n atomic.Int64
	log := slog.New(slog.DiscardHandler)
	svc, err := workflow.NewService(log, workflow.Config{
		Envs:         []workflow.Env{{Name: "dev"}, {Name: "prod", Production: true}},
		Policy:       policy,
		PollInterval: time.Millisecond,
	}, workflow.Deps{
		Repo: w.repo, Tickets: c, Store: store.NewMemory(nil), Deployer: w.dep,
		Notifier: workflow.RecordTickets(log, linkedNotifier{w.notes}, c, 0),
		NewID:    func() string { return fmt.Sprint("r", n.Add(1)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	return w
}

func (w *world) release(t *testing.T, key string) (workflow.Release, error) {
	t.Helper()
	return w.svc.Release(t.Context(), workflow.ReleaseRequest{Ticket: key, Env: "dev", User: ana})
}

// checkNothingMoved fails unless the release was refused before any git
// call or record.
func (w *world) checkNothingMoved(t *testing.T, r workflow.Release) {
	t.Helper()
	if r.ID != "" {
		t.Errorf("a release was recorded: %+v", r)
	}
	if calls := w.repo.Calls(); len(calls) != 0 {
		t.Errorf("Repo called: %v", calls)
	}
	if p := w.repo.Pushes(); len(p) != 0 {
		t.Errorf("pushed: %v", p)
	}
	if w.repo.Head("release/dev") != "" {
		t.Errorf("release/dev exists")
	}
	if n := w.jira.Bodies("POST", ""); len(n) != 0 {
		t.Errorf("wrote to Jira: %q", n)
	}
}

var defaultPolicy = workflow.TicketPolicy{Projects: []string{"OPS"}, DenyStatusCategories: []string{"done"}, IssueTypes: []string{"Story", "Bug", "Task"}}

func TestPolicyRules(t *testing.T) {
	tests := []struct {
		name  string
		issue jiratest.Issue
		kind  workflow.Kind
		msg   string
	}{
		{"done", jiratest.Issue{Key: "OPS-1", Summary: "s", Status: "Closed", StatusCategory: "done"},
			workflow.Forbidden, "OPS-1 is Closed (status category done), and tickets in status category done are not released"},
		{"other project", jiratest.Issue{Key: "HR-1", Summary: "s"},
			workflow.Forbidden, "HR-1 is in project HR, which is not released from here (allowed projects: OPS)"},
		{"issue type", jiratest.Issue{Key: "OPS-1", Summary: "s", Type: "Epic", Status: "In Progress", StatusCategory: "indeterminate"},
			workflow.Forbidden, "OPS-1 is of type Epic, and only these issue types are released: Story, Bug, Task"},
		{"missing", jiratest.Issue{Key: "OPS-2", Summary: "s"},
			workflow.NotFound, "OPS-1 does not exist in Jira, or Code-Releaser's Jira account cannot see it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, defaultPolicy)
			w.jira.Put(tt.issue)
			w.repo.Commit(tt.issue.Key, tt.issue.Key, map[string]string{"a.yml": "a\n"})
			r, err := w.release(t, tt.issue.Key[:strings.IndexByte(tt.issue.Key, '-')]+"-1")
			if workflow.KindOf(err) != tt.kind || !strings.Contains(workflow.UserMessage(err), tt.msg) {
				t.Errorf("err = %v (kind %v), want %v with %q", err, workflow.KindOf(err), tt.kind, tt.msg)
			}
			w.checkNothingMoved(t, r)
		})
	}
}

// TestReleaseWritesBack: an allowed ticket is released and the ticket gets
// a comment and one link per env, updated on the next release.
func TestReleaseWritesBack(t *testing.T) {
	w := newWorld(t, defaultPolicy, func(c *Config) { c.Transitions = map[string]string{"dev": "In QA"} })
	w.jira.Put(jiratest.Issue{Key: "OPS-1", Summary: "Open 443", Type: "Story", Status: "In Progress", StatusCategory: "indeterminate",
		Transitions: []jiratest.Transition{{ID: "21", Name: "QA", To: "In QA", ToCategory: "indeterminate"}}})
	w.repo.Commit("OPS-1", "OPS-1: open 443", map[string]string{"sg.yml": "443\n"})
	r, err := w.release(t, "ops-1")
	if err != nil {
		t.Fatal(err)
	}
	w.repo.Commit("OPS-1", "OPS-1: and 8443", map[string]string{"sg.yml": "443\n8443\n"})
	r2, err := w.release(t, "OPS-1")
	if err != nil {
		t.Fatal(err)
	}
	comments := w.jira.Comments("OPS-1")
	if len(comments) != 2 {
		t.Fatalf("comments = %q", comments)
	}
	for i, rr := range []workflow.Release{r, r2} {
		want := fmt.Sprintf("Code-Releaser released OPS-1 to *dev*\n* Commit: {{%s}} on {{release/dev}}", rr.DeployedSHA)
		if !strings.HasPrefix(comments[i], want) || !strings.Contains(comments[i], "[Slack thread|https://acme.slack.com/archives/C1/p"+rr.ID+"]") {
			t.Errorf("comment %d = %q", i, comments[i])
		}
	}
	links := w.jira.Links("OPS-1")
	if len(links) != 1 || !strings.Contains(string(links[0].Body), "p"+r2.ID) {
		t.Errorf("links = %+v, want one, pointing at the last release", links)
	}
	if is, _ := w.jira.Get("OPS-1"); is.Status != "In QA" {
		t.Errorf("status = %q", is.Status)
	}
	var ticketSteps []string
	for _, n := range w.notes.Notes("progress") {
		if n.Step.Name == workflow.StepTicket {
			ticketSteps = append(ticketSteps, n.Step.Detail)
		}
	}
	want := []string{"commented on OPS-1, linked dev on OPS-1, moved OPS-1 to In QA", "commented on OPS-1, linked dev on OPS-1"}
	if strings.Join(ticketSteps, "|") != strings.Join(want, "|") {
		t.Errorf("ticket steps = %q, want %q", ticketSteps, want)
	}
}

// TestWriteBackFailureIsReported: Jira failing after the release leaves
// the release released, with the failure in the thread.
func TestWriteBackFailureIsReported(t *testing.T) {
	w := newWorld(t, defaultPolicy)
	w.jira.Put(jiratest.Issue{Key: "OPS-1", Summary: "s", StatusCategory: "indeterminate", Status: "In Progress"})
	w.jira.Inject(jiratest.Fault{Method: "POST", Status: 500})
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
	r, err := w.release(t, "OPS-1")
	if err != nil || r.State != workflow.StateReleased {
		t.Fatalf("release = %+v, %v", r, err)
	}
	var detail string
	for _, n := range w.notes.Notes("progress") {
		if n.Step.Name == workflow.StepTicket {
			detail = n.Step.Detail
		}
	}
	if !strings.Contains(detail, "not written to OPS-1: Jira is not working right now (HTTP 500)") {
		t.Errorf("ticket step = %q", detail)
	}
}

// TestFailedDeployWritesBack: a deploy that failed after the push is on
// the ticket too; a conflict, which pushed nothing, is not.
func TestFailedDeployWritesBack(t *testing.T) {
	w := newWorld(t, defaultPolicy)
	w.jira.Put(jiratest.Issue{Key: "OPS-1", Summary: "s", StatusCategory: "indeterminate", Status: "In Progress"})
	w.jira.Put(jiratest.Issue{Key: "OPS-2", Summary: "s", StatusCategory: "indeterminate", Status: "In Progress"})
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "one\n"})
	w.repo.Commit("OPS-2", "OPS-2", map[string]string{"a.yml": "two\n"})
	if _, err := w.release(t, "OPS-1"); err != nil {
		t.Fatal(err)
	}
	_, err := w.release(t, "OPS-2")
	if workflow.KindOf(err) != workflow.Conflict {
		t.Fatalf("err = %v, want a conflict", err)
	}
	if c := w.jira.Comments("OPS-2"); len(c) != 0 {
		t.Errorf("a conflict was written to the ticket: %q", c)
	}

	w.jira.Put(jiratest.Issue{Key: "OPS-3", Summary: "s", StatusCategory: "indeterminate", Status: "In Progress"})
	w.repo.Commit("OPS-3", "OPS-3", map[string]string{"b.yml": "three\n"})
	w.dep.FailWith(workflow.DeployFailed, nil)
	r, err := w.release(t, "OPS-3")
	if err == nil || r.State != workflow.StateFailed || r.PushedSHA == "" {
		t.Fatalf("release = %+v, %v; want failed after a push", r, err)
	}
	c := w.jira.Comments("OPS-3")
	if len(c) != 1 || !strings.HasPrefix(c[0], "Code-Releaser's release of OPS-3 to *dev* failed: the deploy of") ||
		!strings.Contains(c[0], "{{"+r.PushedSHA+"}}") {
		t.Errorf("comments = %q", c)
	}
}

// TestJiraDown: refused with the reason, unless unvalidated releases are
// allowed, when the announcement carries why.
func TestJiraDown(t *testing.T) {
	w := newWorld(t, defaultPolicy)
	w.jira.Put(jiratest.Issue{Key: "OPS-1", Summary: "s", StatusCategory: "indeterminate"})
	w.jira.Inject(jiratest.Fault{Status: 503})
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
	r, err := w.release(t, "OPS-1")
	if workflow.KindOf(err) != workflow.Unavailable || !strings.Contains(workflow.UserMessage(err), "Jira is not working right now (HTTP 503)") {
		t.Errorf("err = %v", err)
	}
	if r.ID != "" || len(w.repo.Calls()) != 0 {
		t.Errorf("release went on: %+v, %v", r, w.repo.Calls())
	}

	w = newWorld(t, defaultPolicy, func(c *Config) { c.AllowUnvalidated = true })
	w.jira.Put(jiratest.Issue{Key: "OPS-1", Summary: "s", StatusCategory: "done"})
	w.jira.Inject(jiratest.Fault{Method: "GET", Status: 503})
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "a\n"})
	if _, err := w.release(t, "OPS-1"); err != nil {
		t.Fatal(err)
	}
	rel := w.notes.Notes("released")
	if len(rel) != 1 || !strings.Contains(rel[0].Announcement.Ticket.Unverified, "Jira is not working right now (HTTP 503)") {
		t.Errorf("announcement = %+v, want the ticket unverified", rel)
	}
	if c := w.jira.Comments("OPS-1"); len(c) != 1 || !strings.Contains(c[0], "released without checking this ticket in Jira") {
		t.Errorf("comments = %q", c)
	}
	// The project rule needs no Jira.
	if _, err := w.release(t, "HR-1"); workflow.KindOf(err) != workflow.Forbidden {
		t.Errorf("HR-1 with Jira down: %v", err)
	}
}
