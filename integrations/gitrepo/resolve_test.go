package gitrepo

import (
	"context"
	"strings"
	"testing"

	"github.com/code-releaser/code-releaser/workflow"
)

func TestResolveTicket(t *testing.T) {
	r, w := seed(t)
	for _, b := range []string{
		"JIRA-1",                // exact
		"feature/JIRA-1-also",   // loses to the exact one
		"feature/JIRA-12-foo",   // word match
		"JIRA-1234-other",       // not JIRA-12 nor JIRA-123
		"bugfix/OPS-7-a",        // ambiguous
		"feature/OPS-7_b",       // ambiguous ('_' separates)
		"release/dev",           // never a candidate
		"release/JIRA-55",       // never a candidate
		"feature/jira-99-lower", // case-insensitive
		"XJIRA-42",              // not a word match for JIRA-42
		"JIRA-420",              // nor this one
	} {
		w.Branch(t, b, "master")
		w.Push(t, b)
	}
	m := openMirror(t, r.URL(), Auth{})
	ctx := context.Background()
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	tip := r.Tip(t, "master")
	for _, tc := range []struct {
		key      workflow.TicketKey
		want     string
		kind     workflow.Kind
		mentions []string
	}{
		{key: "JIRA-1", want: "JIRA-1"},
		{key: "JIRA-12", want: "feature/JIRA-12-foo"},
		{key: "JIRA-1234", want: "JIRA-1234-other"},
		{key: "JIRA-99", want: "feature/jira-99-lower"},
		{key: "JIRA-123", kind: workflow.NotFound, mentions: []string{"JIRA-123"}},
		{key: "JIRA-55", kind: workflow.NotFound, mentions: []string{"JIRA-55"}},
		{key: "JIRA-42", kind: workflow.NotFound},
		{key: "OPS-7", kind: workflow.Invalid, mentions: []string{"bugfix/OPS-7-a", "feature/OPS-7_b"}},
		{key: "-x", kind: workflow.Invalid},
		{key: "a:b", kind: workflow.Invalid},
		{key: "", kind: workflow.Invalid},
	} {
		b, err := m.ResolveTicket(ctx, tc.key)
		if tc.want != "" {
			if err != nil || b.Name != tc.want || b.SHA != tip {
				t.Errorf("ResolveTicket(%s) = %+v, %v; want %s at %s", tc.key, b, err, tc.want, tip)
			}
			continue
		}
		if err == nil || workflow.KindOf(err) != tc.kind {
			t.Errorf("ResolveTicket(%q) = %+v, %v; want an error of kind %v", tc.key, b, err, tc.kind)
			continue
		}
		for _, s := range tc.mentions {
			if msg := workflow.UserMessage(err); !strings.Contains(msg, s) {
				t.Errorf("ResolveTicket(%s) message %q does not mention %s", tc.key, msg, s)
			}
		}
	}
}

func TestContainsWord(t *testing.T) {
	for _, tc := range []struct {
		s, word string
		want    bool
	}{
		{"feature/JIRA-123-foo", "JIRA-123", true},
		{"JIRA-123", "JIRA-123", true},
		{"JIRA-1234", "JIRA-123", false},
		{"JIRA-1234", "JIRA-12", false},
		{"AJIRA-123", "JIRA-123", false},
		{"x/JIRA-1234/JIRA-123", "JIRA-123", true},
		{"fix.JIRA-5", "jira-5", true},
	} {
		if got := containsWord(tc.s, tc.word); got != tc.want {
			t.Errorf("containsWord(%q, %q) = %v, want %v", tc.s, tc.word, got, tc.want)
		}
	}
}
