package gitrepo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/integrations/gitrepo/merge"
	"github.com/code-releaser/code-releaser/workflow"
)

// releaseRepo is a remote with master, release/dev at master, and tickets:
// JIRA-1 and JIRA-2 touch different lines of stacks/app.yml, JIRA-3 the same
// line as JIRA-1, JIRA-4 deletes the file JIRA-1 changes.
func releaseRepo(t *testing.T) *gittest.Remote {
	t.Helper()
	r, w := seed(t)
	w.Branch(t, "release/dev", "master")
	w.Push(t, "release/dev")
	for _, b := range []struct {
		name  string
		files map[string]string
	}{
		{"JIRA-1", map[string]string{"stacks/app.yml": "a: 10\nb: 2\nc: 3\n", "one.txt": "1\n"}},
		{"feature/JIRA-2-b", map[string]string{"stacks/app.yml": "a: 1\nb: 2\nc: 30\n"}},
		{"JIRA-3", map[string]string{"stacks/app.yml": "a: 300\nb: 2\nc: 3\n"}},
		{"JIRA-4", map[string]string{"stacks/app.yml": gittest.Delete}},
	} {
		w.Branch(t, b.name, "master")
		w.Commit(t, b.name+": change", b.files)
		w.Push(t, b.name)
	}
	return r
}

func TestMerge(t *testing.T) {
	r := releaseRepo(t)
	m := openMirror(t, r.URL(), Auth{})
	ctx := context.Background()
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	dev := r.Tip(t, "release/dev")
	jira1 := r.Tip(t, "JIRA-1")
	when := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	msg := "Release JIRA-1 to dev\n\nMerged by Code-Releaser.\n\nCode-Releaser-Release: r-42\nTicket: JIRA-1\nRequested-By: Ana\n"
	out, err := m.Merge(ctx, workflow.MergeRequest{
		Ours: dev, Theirs: jira1, OursLabel: "release/dev", TheirsLabel: "JIRA-1",
		Message: msg, Author: "Ana <Doe>", When: when,
	})
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	if out.UpToDate || len(out.Conflicts) > 0 || len(out.SHA) != 40 {
		t.Fatalf("Merge = %+v, want a clean merge commit", out)
	}
	// No ref moved in the mirror.
	if got, _, _ := m.Tip(ctx, "release/dev"); got != dev {
		t.Errorf("mirror release/dev moved to %s", got)
	}
	// Push it and look at it with git.
	if err := m.Push(ctx, "release/dev", dev, out.SHA); err != nil {
		t.Fatalf("Push: %v", err)
	}
	show := func(format string) string { return gittest.Git(t, r.Dir, "log", "-1", "--format="+format, out.SHA) }
	if got, want := show("%P"), dev+" "+jira1; got != want {
		t.Errorf("parents = %s, want %s", got, want)
	}
	if got, want := show("%an <%ae>|%cn <%ce>|%aI"), "Ana Doe <bot@example.com>|Code-Releaser <bot@example.com>|2025-03-04T05:06:07+00:00"; got != want {
		t.Errorf("identities = %s, want %s", got, want)
	}
	if got := show("%B"); got != msg {
		t.Errorf("message = %q, want %q", got, msg)
	}
	if got, want := show("%(trailers:key=Ticket,valueonly,separator=%x2C)|%(trailers:key=Code-Releaser-Release,valueonly,separator=%x2C)"), "JIRA-1|r-42"; got != want {
		t.Errorf("trailers = %q, want %q", got, want)
	}
	// The same tree as git's own merge.
	if got, want := show("%T"), gittest.Git(t, r.Dir, "merge-tree", "--write-tree", dev, jira1); got != want {
		t.Errorf("tree = %s, git merge-tree gives %s", got, want)
	}
	gittest.Git(t, r.Dir, "fsck", "--no-dangling")

	// Merging JIRA-1 again: up to date.
	again, err := m.Merge(ctx, workflow.MergeRequest{Ours: out.SHA, Theirs: jira1, Message: "again"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (workflow.MergeOutcome{SHA: out.SHA, UpToDate: true}); !cmp.Equal(again, want) {
		t.Errorf("Merge of a merged ticket = %+v, want %+v", again, want)
	}

	// JIRA-2 touches other lines: clean.
	jira2 := r.Tip(t, "feature/JIRA-2-b")
	out2, err := m.Merge(ctx, workflow.MergeRequest{Ours: out.SHA, Theirs: jira2, Message: "Release JIRA-2", Author: "Bo"})
	if err != nil || len(out2.Conflicts) > 0 {
		t.Fatalf("Merge JIRA-2 = %+v, %v", out2, err)
	}
	if err := m.Push(ctx, "release/dev", out.SHA, out2.SHA); err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, r.Dir, "show", out2.SHA+":stacks/app.yml"); got != "a: 10\nb: 2\nc: 30" {
		t.Errorf("merged stacks/app.yml = %q", got)
	}
}

func TestMergeConflicts(t *testing.T) {
	r := releaseRepo(t)
	m := openMirror(t, r.URL(), Auth{})
	ctx := context.Background()
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	before := mirrorBranches(t, m)
	jira1 := r.Tip(t, "JIRA-1")

	out, err := m.Merge(ctx, workflow.MergeRequest{Ours: jira1, Theirs: r.Tip(t, "JIRA-3"), OursLabel: "release/dev", TheirsLabel: "JIRA-3", Message: "Release JIRA-3"})
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	want := workflow.MergeOutcome{Conflicts: []workflow.FileConflict{{
		Path: "stacks/app.yml", Kind: "content",
		Hunks: []workflow.ConflictHunk{{
			OursStart: 1, OursLines: 1, TheirsStart: 1, TheirsLines: 1,
			Ours: []string{"a: 10"}, Theirs: []string{"a: 300"},
		}},
	}}}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("Merge with a conflict (-want +got):\n%s", diff)
	}

	out, err = m.Merge(ctx, workflow.MergeRequest{Ours: jira1, Theirs: r.Tip(t, "JIRA-4"), Message: "Release JIRA-4"})
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	want = workflow.MergeOutcome{Conflicts: []workflow.FileConflict{{Path: "stacks/app.yml", Kind: "modify/delete"}}}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("Merge with modify/delete (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, mirrorBranches(t, m)); diff != "" {
		t.Errorf("a conflicting merge changed refs (-before +after):\n%s", diff)
	}
}

func TestMergeUnknownCommit(t *testing.T) {
	r := releaseRepo(t)
	m := openMirror(t, r.URL(), Auth{})
	_, err := m.Merge(context.Background(), workflow.MergeRequest{Ours: r.Tip(t, "master"), Theirs: r.Tip(t, "JIRA-1"), Message: "m"})
	wantKind(t, err, workflow.NotFound) // not fetched yet
}

func TestHunkLines(t *testing.T) {
	lines := []string{"x", "<<<<<<< ours", "o1", "o2", "=======", "t1", ">>>>>>> theirs", "y"}
	got := hunk(lines, mergeHunk(2, 2, 1, 2, 6))
	want := workflow.ConflictHunk{OursStart: 2, OursLines: 2, TheirsStart: 2, TheirsLines: 1, Ours: []string{"o1", "o2"}, Theirs: []string{"t1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hunk (-want +got):\n%s", diff)
	}
	long := []string{"<<<<<<< a"}
	for i := 0; i < 30; i++ {
		long = append(long, "o")
	}
	long = append(long, "=======", ">>>>>>> b")
	got = hunk(long, mergeHunk(1, 30, 0, 1, len(long)))
	if len(got.Ours) != maxHunkLines+1 || !strings.Contains(got.Ours[maxHunkLines], "10 more lines") || len(got.Theirs) != 0 {
		t.Errorf("capped hunk = %q / %q", got.Ours, got.Theirs)
	}
}

// mergeHunk builds an engine hunk: ours and theirs ranges (theirs starting
// at the same line as ours) and the marker block at resultStart.
func mergeHunk(oursStart, oursCount, theirsCount, resultStart, resultCount int) merge.Hunk {
	return merge.Hunk{
		Ours:   merge.LineRange{Start: oursStart, Count: oursCount},
		Theirs: merge.LineRange{Start: oursStart, Count: theirsCount},
		Result: merge.LineRange{Start: resultStart, Count: resultCount},
	}
}
