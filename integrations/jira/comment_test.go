package jira

import (
	"testing"

	"github.com/code-releaser/code-releaser/integrations/jira/jiratest"
	"github.com/code-releaser/code-releaser/workflow"
)

// TestCommentOnExpiry: the occupancy lifecycle's comment reaches the
// ticket as {"body": ...}; a missing ticket is a NotFound error.
func TestCommentOnExpiry(t *testing.T) {
	c, srv, _ := setup(t, jiratest.Cloud)
	srv.Put(jiratest.Issue{Key: "OPS-1", Summary: "one", Status: "In Progress", StatusCategory: "indeterminate"})
	text := "Code-Releaser took OPS-1 out of dev: expired: in dev for 7d (expire_after 7d)."
	if err := c.Comment(t.Context(), "OPS-1", text); err != nil {
		t.Fatal(err)
	}
	if got := srv.Comments("OPS-1"); len(got) != 1 || got[0] != text {
		t.Errorf("comments on OPS-1: %q, want [%q]", got, text)
	}
	if err := c.Comment(t.Context(), "OPS-404", text); workflow.KindOf(err) != workflow.NotFound {
		t.Errorf("a comment on a missing ticket: %v (kind %v), want NotFound", err, workflow.KindOf(err))
	}
}
