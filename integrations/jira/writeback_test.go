package jira

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/code-releaser/code-releaser/integrations/jira/jiratest"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/google/go-cmp/cmp"
)

const sha1 = "3fa9c2e0b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6"

func note(env, sha, link string) workflow.TicketNote {
	return workflow.TicketNote{
		Release: workflow.Release{ID: "r1", Ticket: "OPS-1", Env: env, By: "U1", State: workflow.StateReleased, DeployedSHA: sha},
		Env:     workflow.Env{Name: env, Branch: "release/" + env},
		Ticket:  workflow.Ticket{Key: "OPS-1", Status: "In Progress", StatusCategory: "indeterminate"},
		SHA:     sha,
		Deploy:  workflow.DeployResult{SHA: sha, Status: workflow.DeploySucceeded, Summary: "2 stacks updated"},
		Link:    link,
	}
}

// TestCommentWire: the comment is {"body": ...} and nothing else, which
// Jira Cloud accepts; go-jira's AddComment is refused.
func TestCommentWire(t *testing.T) {
	c, srv, _ := setup(t, jiratest.Cloud)
	srv.Put(jiratest.Issue{Key: "OPS-1", Summary: "one", Status: "In Progress", StatusCategory: "indeterminate"})
	done, err := c.Record(t.Context(), note("dev", sha1, "https://acme.slack.com/archives/C1/p1700000000000100"))
	if err != nil {
		t.Fatal(err)
	}
	if done != "commented on OPS-1, linked dev on OPS-1" {
		t.Errorf("done = %q", done)
	}
	bodies := srv.Bodies("POST", "/issue/OPS-1/comment")
	if len(bodies) != 1 {
		t.Fatalf("comment posts = %d, want 1", len(bodies))
	}
	want := `{"body":"Code-Releaser released OPS-1 to *dev*\n` +
		`* Commit: {{3fa9c2e0b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6}} on {{release/dev}}\n` +
		`* Deploy: succeeded — 2 stacks updated\n` +
		`* Release: r1, requested by U1\n` +
		`* Details: [Slack thread|https://acme.slack.com/archives/C1/p1700000000000100]"}`
	if got := string(bytes.TrimSpace(bodies[0])); got != want {
		t.Errorf("comment body:\n got %s\nwant %s", got, want)
	}
	var m map[string]any
	if err := json.Unmarshal(bodies[0], &m); err != nil || len(m) != 1 {
		t.Errorf("comment body has keys %v, want only body", m)
	}

	// go-jira's own AddComment sends empty author/visibility objects.
	jc, err := gojira.NewClient((&gojira.BasicAuthTransport{Username: jiratest.Email, Password: jiratest.APIToken}).Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, resp, err := jc.Issue.AddCommentWithContext(t.Context(), "OPS-1", &gojira.Comment{Body: "hi"})
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("go-jira AddComment: %v, want a 400 as Jira Cloud answers", err)
	}
	if b := srv.Bodies("POST", "/issue/OPS-1/comment"); len(b) != 2 || !bytes.Contains(b[1], []byte(`"author":{`)) || !bytes.Contains(b[1], []byte(`"visibility":{}`)) {
		t.Errorf("go-jira's comment body = %s, want empty author and visibility objects", b[len(b)-1])
	}
	if n := len(srv.Comments("OPS-1")); n != 1 {
		t.Errorf("%d comments, want 1", n)
	}
}

// TestRemoteLinkIdempotent: one link per env, updated on every release.
func TestRemoteLinkIdempotent(t *testing.T) {
	c, srv, _ := setup(t, jiratest.Cloud, func(c *Config) { c.LinkNamespace = "git.example.com/acme/infra" })
	srv.Put(jiratest.Issue{Key: "OPS-1", Summary: "one"})
	const thread = "https://acme.slack.com/archives/C1/p1"
	if _, err := c.Record(t.Context(), note("dev", sha1, thread)); err != nil {
		t.Fatal(err)
	}
	n2 := note("dev", "b0b1b2b3b4b5b6b7b8b9c0c1c2c3c4c5c6c7c8c9", thread+"2")
	n2.Release.ID = "r2"
	if _, err := c.Record(t.Context(), n2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Record(t.Context(), note("stg", sha1, thread)); err != nil {
		t.Fatal(err)
	}
	links := srv.Links("OPS-1")
	if len(links) != 2 {
		t.Fatalf("links = %d, want one per env (2): %+v", len(links), links)
	}
	want := `{"globalId":"code-releaser=git.example.com/acme/infra\u0026env=dev",` +
		`"application":{"type":"com.code-releaser","name":"Code-Releaser"},` +
		`"relationship":"released to",` +
		`"object":{"url":"https://acme.slack.com/archives/C1/p12","title":"dev: b0b1b2b","summary":"released by Code-Releaser, release r2, deploy succeeded"}}`
	if got := string(bytes.TrimSpace(links[0].Body)); got != want {
		t.Errorf("dev link body:\n got %s\nwant %s", got, want)
	}
	if links[0].GlobalID != c.GlobalID("dev") || links[1].GlobalID != c.GlobalID("stg") {
		t.Errorf("globalIds = %q, %q", links[0].GlobalID, links[1].GlobalID)
	}
	// Nowhere to point: no link, and no error.
	c2, srv2, _ := setup(t, jiratest.Cloud)
	srv2.Put(jiratest.Issue{Key: "OPS-1", Summary: "one"})
	done, err := c2.Record(t.Context(), note("dev", sha1, ""))
	if err != nil || done != "commented on OPS-1" || len(srv2.Links("OPS-1")) != 0 {
		t.Errorf("Record without a link target = %q, %v, links %v", done, err, srv2.Links("OPS-1"))
	}
	// A fallback URL is used without a thread.
	c3, srv3, _ := setup(t, jiratest.Cloud, func(c *Config) { c.LinkURL = "https://git.example.com/acme/infra" })
	srv3.Put(jiratest.Issue{Key: "OPS-1", Summary: "one"})
	if _, err := c3.Record(t.Context(), note("dev", sha1, "")); err != nil {
		t.Fatal(err)
	}
	if l := srv3.Links("OPS-1"); len(l) != 1 || !strings.Contains(string(l[0].Body), `"url":"https://git.example.com/acme/infra"`) {
		t.Errorf("links = %+v", l)
	}
	if id := (&Client{cfg: Config{LinkNamespace: strings.Repeat("x", 300)}}).GlobalID("dev"); len(id) > 255 {
		t.Errorf("globalId of %d bytes", len(id))
	}
}

func TestRecordFailure(t *testing.T) {
	c, srv, _ := setup(t, jiratest.Cloud, func(c *Config) { c.Transitions = map[string]string{"dev": "In QA"} })
	srv.Put(jiratest.Issue{Key: "OPS-1", Summary: "one", Transitions: []jiratest.Transition{{ID: "21", Name: "To QA", To: "In QA", ToCategory: "indeterminate"}}})
	n := note("dev", sha1, "https://acme.slack.com/archives/C1/p1")
	n.Release.State = workflow.StateFailed
	n.Release.DeployedSHA = ""
	n.Deploy = workflow.DeployResult{}
	n.Failure = "the deploy of 3fa9c2e to dev failed: stack net: UPDATE_ROLLBACK_COMPLETE"
	if _, err := c.Record(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	got := srv.Comments("OPS-1")
	want := []string{"Code-Releaser's release of OPS-1 to *dev* failed: the deploy of 3fa9c2e to dev failed: stack net: UPDATE_ROLLBACK_COMPLETE\n" +
		"* Commit: {{3fa9c2e0b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6}} on {{release/dev}}\n" +
		"* Release: r1, requested by U1\n" +
		"* Details: [Slack thread|https://acme.slack.com/archives/C1/p1]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
	if is, _ := srv.Get("OPS-1"); is.Status != "To Do" {
		t.Errorf("a failed release moved the ticket to %s", is.Status)
	}
	if l := srv.Links("OPS-1"); len(l) != 1 || !strings.Contains(string(l[0].Body), `"title":"dev: 3fa9c2e (release failed)"`) {
		t.Errorf("links = %+v", l)
	}
}

func TestTransition(t *testing.T) {
	c, srv, _ := setup(t, jiratest.DataCenter, func(c *Config) { c.Transitions = map[string]string{"dev": "In QA", "stg": "Ready"} })
	srv.Put(jiratest.Issue{Key: "OPS-1", Summary: "one", Status: "In Progress", StatusCategory: "indeterminate", Transitions: []jiratest.Transition{
		{ID: "11", Name: "Back to To Do", To: "To Do", ToCategory: "new"},
		{ID: "21", Name: "Send to QA", To: "In QA", ToCategory: "indeterminate"},
	}})
	done, err := c.Record(t.Context(), note("dev", sha1, ""))
	if err != nil || done != "commented on OPS-1, moved OPS-1 to In QA" {
		t.Errorf("Record = %q, %v", done, err)
	}
	if is, _ := srv.Get("OPS-1"); is.Status != "In QA" {
		t.Errorf("status = %q, want In QA", is.Status)
	}
	if b := srv.Bodies("POST", "/issue/OPS-1/transitions"); len(b) != 1 || string(bytes.TrimSpace(b[0])) != `{"transition":{"id":"21"}}` {
		t.Errorf("transition posts = %q", b)
	}
	// Already there: nothing asked.
	n := note("dev", sha1, "")
	n.Ticket.Status = "In QA"
	if done, err := c.Record(t.Context(), n); err != nil || strings.Contains(done, "moved") {
		t.Errorf("Record = %q, %v", done, err)
	}
	// No such transition: reported, the comment still made.
	done, err = c.Record(t.Context(), note("stg", sha1, ""))
	if done != "commented on OPS-1" || workflow.KindOf(err) != workflow.Invalid ||
		!strings.Contains(workflow.UserMessage(err), "cannot move from In Progress to Ready (jira.transitions): the transitions open to Code-Releaser are Back to To Do → To Do, Send to QA → In QA") {
		t.Errorf("Record = %q, %v", done, err)
	}
}

// TestRecordPartial: each part is tried; what failed is an error, what
// worked is reported.
func TestRecordPartial(t *testing.T) {
	c, srv, _ := setup(t, jiratest.Cloud)
	srv.Put(jiratest.Issue{Key: "OPS-1", Summary: "one"})
	srv.Inject(jiratest.Fault{Path: "/comment", Status: 403, Body: `{"errorMessages":["You do not have the permission to comment on this issue."],"errors":{}}`})
	done, err := c.Record(t.Context(), note("dev", sha1, "https://acme.slack.com/archives/C1/p1"))
	if done != "linked dev on OPS-1" || workflow.KindOf(err) != workflow.Forbidden ||
		!strings.Contains(workflow.UserMessage(err), "You do not have the permission to comment on this issue.") {
		t.Errorf("Record = %q, %v", done, err)
	}
}

// A production rollback tells the ticket its code left the env, marks the
// env's link rolled back and moves the ticket nowhere (a release to that
// env would have moved it on).
func TestRecordRollback(t *testing.T) {
	c, srv, _ := setup(t, jiratest.DataCenter, func(c *Config) { c.Transitions = map[string]string{"prod": "Done"} })
	srv.Put(jiratest.Issue{Key: "OPS-1", Summary: "one", Status: "In Progress", StatusCategory: "indeterminate", Transitions: []jiratest.Transition{
		{ID: "31", Name: "Close", To: "Done", ToCategory: "done"},
	}})
	n := note("prod", sha1, "https://acme.slack.com/archives/C1/p1700000000000100")
	n.Env.Branch, n.RollbackOf = "master", "r0"
	done, err := c.Record(t.Context(), n)
	if err != nil || done != "commented on OPS-1, linked prod on OPS-1" {
		t.Errorf("Record = %q, %v; want a comment and the link, no transition", done, err)
	}
	if is, _ := srv.Get("OPS-1"); is.Status != "In Progress" {
		t.Errorf("status = %q after a rollback, want it unchanged", is.Status)
	}
	bodies := srv.Bodies("POST", "/issue/OPS-1/comment")
	if len(bodies) != 1 || !strings.Contains(string(bodies[0]), "Code-Releaser rolled back *prod*: release r0 of OPS-1 is undone") || !strings.Contains(string(bodies[0]), "fix or revert OPS-1 in master") {
		t.Errorf("comment = %s", bodies)
	}
	links := srv.Bodies("POST", "/issue/OPS-1/remotelink")
	if len(links) != 1 || !strings.Contains(string(links[0]), "(rolled back)") {
		t.Errorf("link = %s", links)
	}
}
