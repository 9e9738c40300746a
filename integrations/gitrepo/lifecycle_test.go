package gitrepo_test

import (
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
