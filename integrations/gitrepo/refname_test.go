package gitrepo

import (
	"context"
	"strings"
	"testing"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/workflow"
)

var badBranchNames = []string{
	"", "-x", "--force", "a:b", "..", "a..b", "a/../b", "a b", "a\tb", "a\nb", "a\x00b", "a\x7fb",
	"a~1", "a^", "a?", "a*", "a[b", `a\b`, "a@{1}", "@", "HEAD", "a.lock", "a/b.lock/c", ".a", "a/.b",
	"a/", "/a", "a//b", "a.", "refs/heads/x", "+x:refs/heads/y", strings.Repeat("x", 256), "\xff",
}

func TestCheckBranchName(t *testing.T) {
	gittest.RequireGit(t)
	for _, name := range []string{"master", "release/dev", "feature/JIRA-1-foo", "a.b", "a-b_c", "JIRA-1", "x@y", "ünï"} {
		if err := checkBranchName(name); err != nil {
			t.Errorf("checkBranchName(%q) = %v, want nil", name, err)
		}
		if _, err := gittest.RunGit("", nil, "check-ref-format", "--branch", name); err != nil {
			t.Errorf("git refuses %q, which we accept: %v", name, err)
		}
	}
	for _, name := range badBranchNames {
		if err := checkBranchName(name); err == nil {
			t.Errorf("checkBranchName(%q) = nil, want an error", name)
		}
	}
}

// TestBadNamesBeforeGit checks that bad names are refused as Invalid before
// any git call: the remote is a closed port, so a call would be Unavailable.
func TestBadNamesBeforeGit(t *testing.T) {
	m := openMirror(t, "http://"+closedPort(t)+"/infra.git", Auth{})
	ctx := context.Background()
	sha := strings.Repeat("a", 40)
	for _, name := range badBranchNames {
		_, _, err := m.Tip(ctx, name)
		wantKind(t, err, workflow.Invalid)
		wantKind(t, m.Push(ctx, name, "", sha), workflow.Invalid)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("A", 40), strings.Repeat("g", 40), "-" + strings.Repeat("a", 39), "HEAD"} {
		wantKind(t, m.Push(ctx, "release/dev", "", bad), workflow.Invalid)
		wantKind(t, m.Push(ctx, "release/dev", bad+"x", sha), workflow.Invalid)
		_, err := m.IsAncestor(ctx, bad, sha)
		wantKind(t, err, workflow.Invalid)
		_, err = m.Log(ctx, sha, bad)
		wantKind(t, err, workflow.Invalid)
		_, err = m.Merge(ctx, workflow.MergeRequest{Ours: sha, Theirs: bad, Message: "m"})
		wantKind(t, err, workflow.Invalid)
	}
}
