package workflow

import (
	"strings"
	"testing"
)

// ParseReleaseMerge reads back what releaseMessage writes, and nothing else.
func TestParseReleaseMergeRoundTrip(t *testing.T) {
	parents := []string{"envtip", "tickettip"}
	for _, tc := range []struct {
		key                    TicketKey
		env, summary, user, id string
	}{
		{"OPS-1", "dev", "Fix the VPC", "U1", "r1"},
		{"JIRA-22", "stg", "", "alice", "remove-7"},
		{"OPS-3", "sandbox", "Summary: with a colon\nand\tlines", "U0 with spaces", "r-3"},
	} {
		msg := releaseMessage(tc.key, tc.env, tc.summary, tc.user, tc.id)
		got, ok := ParseReleaseMerge(Commit{SHA: "m", Parents: parents, Message: msg})
		want := ReleaseMerge{Ticket: tc.key, Env: tc.env, By: oneLine(tc.user, 100), ReleaseID: tc.id}
		if !ok || got != want {
			t.Errorf("ParseReleaseMerge(releaseMessage(%q...)) = %+v, %v; want %+v", tc.key, got, ok, want)
		}
	}
}

func TestParseReleaseMergeRefuses(t *testing.T) {
	good := releaseMessage("OPS-1", "dev", "x", "U1", "r1")
	two := []string{"a", "b"}
	for _, tc := range []struct {
		name    string
		parents []string
		msg     string
	}{
		{"sync merge", two, syncMessage("master", "release/dev", "r1")},
		{"one parent", []string{"a"}, good},
		{"not the bot's", two, strings.Replace(good, "Released-By: code-releaser", "Released-By: mallory", 1)},
		{"no Released-For", two, strings.Replace(good, "Released-For: U1\n", "", 1)},
		{"lower-case key", two, strings.Replace(good, "OPS-1", "ops-1", 1)},
		{"option-like key", two, strings.Replace(good, "OPS-1", "--upload-pack=x", 1)},
		{"other subject", two, strings.Replace(good, "Release OPS-1 to dev", "Merge OPS-1 into dev", 1)},
		{"trailers not last", two, good + "\nmore text\n"},
	} {
		if m, ok := ParseReleaseMerge(Commit{Parents: tc.parents, Message: tc.msg}); ok {
			t.Errorf("%s: ParseReleaseMerge = %+v, want not a release merge", tc.name, m)
		}
	}
}
