package gitrepo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/workflow"
)

// botMsg is a message of the bot's commits on an env branch (the trailers
// workflow writes), with extra trailers.
func botMsg(subject, id string, extra ...string) string {
	return subject + "\n\nReleased-By: code-releaser\nReleased-For: U1\nRelease-Id: " + id + "\n" + strings.Join(extra, "")
}

// rollbackScenario: release/dev holds JIRA-0 (merged onto master0); master
// then gains b.txt (master1); JIRA-1's release syncs master1 and merges
// JIRA-1 (line a), and is rolled back to the commit before it. JIRA-1 then
// gets a fix (line c). It returns the remote, the mirror (fetched), and
// the commits: the rollback, master1 and JIRA-1's first tip and fix.
type rollbackScenario struct {
	r                          *gittest.Remote
	w                          *gittest.Work
	m                          *Mirror
	before, rollback, master1  string
	jira1, jira1Fix, released1 string
}

func newRollbackScenario(t *testing.T) *rollbackScenario {
	t.Helper()
	ctx := context.Background()
	r, w := seed(t) // master0: stacks/app.yml a: 1, b: 2, c: 3
	master0 := w.Head(t)
	w.Branch(t, "JIRA-0", "master")
	w.Commit(t, "JIRA-0: one.txt", map[string]string{"one.txt": "0\n"})
	w.Push(t, "JIRA-0")
	w.Branch(t, "JIRA-1", "master")
	jira1 := w.Commit(t, "JIRA-1: a", map[string]string{"stacks/app.yml": "a: 10\nb: 2\nc: 3\n"})
	w.Push(t, "JIRA-1")
	w.Checkout(t, "master")
	master1 := w.Commit(t, "master: b.txt", map[string]string{"b.txt": "b\n"})
	w.Push(t, "master")

	m := openMirror(t, r.URL(), Auth{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.Fetch(ctx))
	when := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	merge := func(ours, theirs, msg string) string {
		t.Helper()
		out, err := m.Merge(ctx, workflow.MergeRequest{Ours: ours, Theirs: theirs, Message: msg, When: when})
		if err != nil || len(out.Conflicts) > 0 || out.SHA == "" {
			t.Fatalf("merge %s into %s = %+v, %v", theirs, ours, out, err)
		}
		when = when.Add(time.Minute)
		return out.SHA
	}
	m0 := merge(master0, r.Tip(t, "JIRA-0"), botMsg("Release JIRA-0 to dev", "r0"))
	must(m.Push(ctx, "release/dev", "", m0))
	s1 := merge(m0, master1, botMsg("Sync master into release/dev", "r1"))
	m1 := merge(s1, jira1, botMsg("Release JIRA-1 to dev", "r1"))
	must(m.Push(ctx, "release/dev", m0, m1))
	rb, err := m.CommitTree(ctx, workflow.CommitRequest{Parent: m1, TreeOf: m0, When: when,
		Message: botMsg("Roll back release/dev to "+m0[:7], "rollback-1", "Rolled-Back-To: "+m0+"\n")})
	must(err)
	must(m.Push(ctx, "release/dev", m1, rb))

	w.Checkout(t, "JIRA-1")
	fix := w.Commit(t, "JIRA-1: c", map[string]string{"stacks/app.yml": "a: 10\nb: 2\nc: 30\n"})
	w.Push(t, "JIRA-1")
	must(m.Fetch(ctx))
	return &rollbackScenario{r: r, w: w, m: m, before: m0, rollback: rb, master1: master1, jira1: jira1, jira1Fix: fix, released1: m1}
}

// show is a file of a commit as git reads it ("" when it has none).
func show(t *testing.T, dir, sha, path string) string {
	t.Helper()
	out, err := gittest.RunGit(dir, nil, "show", sha+":"+path)
	if err != nil {
		return ""
	}
	return out
}

// A rollback commit keeps the branch's history (a fast-forward push) and
// restores the earlier tree; the mirror then reads the branch as if the
// undone release had never been merged: the ticket's next release brings
// all of it back, not only its newer commits, and the next sync of master
// brings back master's commits the rollback undid. git alone (which sees
// the undone commits as merged) gets both wrong, as the test shows.
func TestRollbackIsReadAsNeverMerged(t *testing.T) {
	gittest.RequireGit(t)
	ctx := context.Background()
	s := newRollbackScenario(t)
	dir := s.m.Dir() // the merges below are written there, not pushed

	if got := gittest.Git(t, dir, "rev-parse", "release/dev~1"); got != s.released1 {
		t.Fatalf("release/dev~1 = %s, want the rolled-back release %s: history was not kept", got, s.released1)
	}
	if got, want := gittest.Git(t, dir, "rev-parse", s.rollback+"^{tree}"), gittest.Git(t, dir, "rev-parse", s.before+"^{tree}"); got != want {
		t.Fatalf("rollback tree %s, want the earlier commit's %s", got, want)
	}

	// What git alone does with the same commits.
	gitTree := gittest.Git(t, dir, "merge-tree", "--write-tree", s.rollback, s.jira1Fix)
	if a := show(t, dir, gitTree, "stacks/app.yml"); !strings.HasPrefix(a, "a: 1\n") {
		t.Fatalf("git's own merge has app.yml %q: the trap this test is about is not reproduced", a)
	}

	// The ticket released again: its first commit comes back with its fix.
	out, err := s.m.Merge(ctx, workflow.MergeRequest{Ours: s.rollback, Theirs: s.jira1Fix, Message: botMsg("Release JIRA-1 to dev", "r2")})
	if err != nil || out.SHA == "" || out.UpToDate {
		t.Fatalf("release JIRA-1 again = %+v, %v", out, err)
	}
	if got, want := show(t, dir, out.SHA, "stacks/app.yml"), "a: 10\nb: 2\nc: 30"; got != want {
		t.Errorf("after releasing JIRA-1 again app.yml = %q, want %q (both its commits)", got, want)
	}
	if got := show(t, dir, out.SHA, "one.txt"); got != "0" {
		t.Errorf("JIRA-0's one.txt = %q, want it kept", got)
	}

	// A sync of master brings back b.txt, which the rollback undid.
	sync, err := s.m.Merge(ctx, workflow.MergeRequest{Ours: s.rollback, Theirs: s.master1, Message: botMsg("Sync master into release/dev", "r3")})
	if err != nil || sync.UpToDate || sync.SHA == "" {
		t.Fatalf("sync master = %+v, %v; want a merge that brings master's b.txt back", sync, err)
	}
	if got := show(t, dir, sync.SHA, "b.txt"); got != "b" {
		t.Errorf("after the sync b.txt = %q, want master's", got)
	}

	// The bot's reads of history agree.
	if in, err := s.m.IsAncestor(ctx, s.jira1, s.rollback); err != nil || in {
		t.Errorf("IsAncestor(JIRA-1's first tip, rollback) = %v, %v; want false", in, err)
	}
	if in, err := s.m.IsAncestor(ctx, s.before, s.rollback); err != nil || !in {
		t.Errorf("IsAncestor(the restored commit, rollback) = %v, %v; want true", in, err)
	}
	log, err := s.m.Log(ctx, s.master1, s.rollback)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, c := range log {
		subjects = append(subjects, c.Subject)
	}
	if got := strings.Join(subjects, " | "); strings.Contains(got, "JIRA-1") || !strings.Contains(got, "Release JIRA-0") {
		t.Errorf("Log(master1..rollback) = %s; want JIRA-0's release and not JIRA-1's", got)
	}
}

// The graft is honoured only for the bot's commits on an env branch's
// first-parent chain whose target is further down it: a ticket branch's
// author who writes the same trailers into their own commit changes
// nothing in how the bot reads history.
func TestForgedRollbackInATicketBranchIsIgnored(t *testing.T) {
	gittest.RequireGit(t)
	ctx := context.Background()
	s := newRollbackScenario(t)

	// Both commits carry the bot's trailers and the "rollback" targets the
	// branch's own fork point further down its first-parent chain: on an
	// env branch this would be a valid graft hiding c1.
	s.w.Branch(t, "JIRA-9", "master")
	c1 := s.w.Commit(t, botMsg("JIRA-9: d.txt", "x0"), map[string]string{"d.txt": "d\n"})
	forged := s.w.Commit(t, botMsg("Roll back release/dev", "x", "Rolled-Back-To: "+s.master1+"\n"), map[string]string{"e.txt": "e\n"})
	s.w.Push(t, "JIRA-9")
	if err := s.m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := s.m.Merge(ctx, workflow.MergeRequest{Ours: s.rollback, Theirs: forged, Message: botMsg("Release JIRA-9 to dev", "r9")})
	if err != nil || out.SHA == "" {
		t.Fatalf("release JIRA-9 = %+v, %v", out, err)
	}
	if err := s.m.Push(ctx, "release/dev", s.rollback, out.SHA); err != nil {
		t.Fatal(err)
	}
	for _, sha := range []string{forged, out.SHA} {
		if in, err := s.m.IsAncestor(ctx, c1, sha); err != nil || !in {
			t.Errorf("IsAncestor(JIRA-9's first commit, %s) = %v, %v; want true (the forged graft ignored)", sha[:7], in, err)
		}
	}
	if got := show(t, s.m.Dir(), out.SHA, "d.txt"); got != "d" {
		t.Errorf("d.txt = %q after the release; want JIRA-9's", got)
	}
}
