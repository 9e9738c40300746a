package gitrepo_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/workflow"
)

// TestRemoveAndResetWithGit checks remove and reset on a real remote: the
// env branch is master plus the remaining tickets, then master.
func TestRemoveAndResetWithGit(t *testing.T) {
	gittest.RequireGit(t)
	remote, _, url := scenarioRemote(t)
	st := store.NewMemory(nil)
	svc := scenarioService(t, scenarioMirror(t, url), st)
	ctx := t.Context()
	for _, k := range []string{"JIRA-1", "JIRA-2"} {
		if err := release(ctx, svc, k, "U1"); err != nil {
			t.Fatalf("release %s: %v", k, err)
		}
	}
	if _, err := svc.Remove(ctx, "JIRA-3", "dev", workflow.User{ID: "U1"}); workflow.KindOf(err) != workflow.NotFound {
		t.Errorf("remove of a ticket not in dev: %v", err)
	}
	c, err := svc.Remove(ctx, "JIRA-1", "dev", workflow.User{ID: "U2"})
	if err != nil {
		t.Fatal(err)
	}
	if got := remote.Tip(t, "release/dev"); got != c.SHA {
		t.Errorf("remote release/dev at %s, want the rebuilt %s", got, c.SHA)
	}
	for path, want := range map[string]string{"a.txt": "a", "b.txt": "b2", "c.txt": "c"} {
		if got := gittest.Git(t, remote.Dir, "show", "release/dev:"+path); got != want {
			t.Errorf("release/dev:%s = %q, want %q (master plus JIRA-2)", path, got, want)
		}
	}
	wantAncestor(t, remote, "master", "release/dev")
	wantAncestor(t, remote, "JIRA-2", "release/dev")
	if _, err := gittest.RunGit(remote.Dir, nil, "merge-base", "--is-ancestor", "JIRA-1", "release/dev"); err == nil {
		t.Error("JIRA-1 is still in release/dev")
	}
	occ, _ := st.Occupants(ctx, "dev")
	if len(occ) != 1 || occ[0].Ticket != "JIRA-2" || occ[0].MergeSHA != c.SHA {
		t.Errorf("occupants after remove: %+v", occ)
	}

	if _, err := svc.Reset(ctx, "dev", workflow.User{ID: "U2"}); err != nil {
		t.Fatal(err)
	}
	if got, want := remote.Tip(t, "release/dev"), remote.Tip(t, "master"); got != want {
		t.Errorf("release/dev at %s after reset, want master %s", got, want)
	}
	if occ, _ := st.Occupants(ctx, "dev"); len(occ) != 0 {
		t.Errorf("occupants after reset: %+v", occ)
	}
}

// TestRemoveStopsWhenARemainingTicketNoLongerMerges checks that remove, on
// a real remote, stops and pushes nothing when the rebuild without the
// removed ticket conflicts: JIRA-4 was built on top of JIRA-1's change to
// a.txt, and master has since changed that line too, so without JIRA-1 in
// release/dev, JIRA-4 (rebuilt after JIRA-2) conflicts with master in a.txt.
func TestRemoveStopsWhenARemainingTicketNoLongerMerges(t *testing.T) {
	gittest.RequireGit(t)
	remote, w, url := scenarioRemote(t)
	w.Branch(t, "JIRA-4", "JIRA-1")
	w.Commit(t, "JIRA-4: build on JIRA-1", map[string]string{"a.txt": "a1\nmore\n"})
	w.Push(t, "JIRA-4")
	w.Checkout(t, "master")
	st := store.NewMemory(nil)
	svc := scenarioService(t, scenarioMirror(t, url), st)
	ctx := t.Context()
	for _, k := range []string{"JIRA-1", "JIRA-2", "JIRA-4"} {
		if err := release(ctx, svc, k, "U1"); err != nil {
			t.Fatalf("release %s: %v", k, err)
		}
	}
	w.Commit(t, "hotfix a.txt", map[string]string{"a.txt": "a-hotfix\n"})
	w.Push(t, "master")
	tip := remote.Tip(t, "release/dev")
	before, err := st.Occupants(ctx, "dev")
	if err != nil || len(before) != 3 {
		t.Fatalf("occupants before remove: %+v, %v", before, err)
	}

	c, err := svc.Remove(ctx, "JIRA-1", "dev", workflow.User{ID: "U2"})
	if workflow.KindOf(err) != workflow.Conflict {
		t.Fatalf("remove: kind %v, err %v; want a conflict", workflow.KindOf(err), err)
	}
	var rep *workflow.ConflictReport
	if !errors.As(err, &rep) {
		t.Fatalf("remove: %v does not carry a *workflow.ConflictReport", err)
	}
	if rep.Stage != workflow.ConflictRebuild || rep.Ticket != "JIRA-4" || rep.Env != "dev" ||
		!reflect.DeepEqual(rep.Paths(), []string{"a.txt"}) {
		t.Errorf("conflict report: stage %q, ticket %s, env %s, paths %v; want rebuild, JIRA-4, dev, [a.txt]",
			rep.Stage, rep.Ticket, rep.Env, rep.Paths())
	}
	if c.SHA != "" {
		t.Errorf("remove returned SHA %s on a conflict", c.SHA)
	}
	if got := remote.Tip(t, "release/dev"); got != tip {
		t.Errorf("remote release/dev moved to %s, want it left at %s", got, tip)
	}
	if after, _ := st.Occupants(ctx, "dev"); !reflect.DeepEqual(after, before) {
		t.Errorf("occupants after the failed remove: %+v, want them unchanged: %+v", after, before)
	}
	if l, held, err := st.CurrentLease(ctx, "dev"); err != nil || held {
		t.Errorf("dev's lease after the failed remove: %+v held=%v, %v; want it free", l, held, err)
	}
}
