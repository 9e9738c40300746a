package gitrepo

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
)

func TestLog(t *testing.T) {
	r, w := seed(t)
	root := r.Tip(t, "master")
	w.Branch(t, "release/dev", "master")
	w.Push(t, "release/dev")
	w.Branch(t, "JIRA-1", "master")
	w.Commit(t, "JIRA-1: first\n\nbody line\n\nTicket: JIRA-1", map[string]string{"stacks/app.yml": "a: 10\nb: 2\nc: 3\n", "new/dir/file.txt": "n\n"})
	w.Commit(t, "JIRA-1: second", map[string]string{"README.md": gittest.Delete})
	w.Push(t, "JIRA-1")
	w.Checkout(t, "master")
	w.Commit(t, "master moves", map[string]string{"other.txt": "o\n"})
	w.Push(t, "master")
	w.Checkout(t, "release/dev")
	w.Git(t, "merge", "--quiet", "--no-ff", "-m", "Merge master into release/dev", "master")
	w.Git(t, "merge", "--quiet", "--no-ff", "-m", "Merge JIRA-1 into release/dev", "JIRA-1")
	w.Push(t, "release/dev")

	m := openMirror(t, r.URL(), Auth{})
	ctx := context.Background()
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ base, tip string }{
		{r.Tip(t, "master"), r.Tip(t, "release/dev")},
		{root, r.Tip(t, "JIRA-1")},
		{r.Tip(t, "release/dev"), r.Tip(t, "master")},
		{"", r.Tip(t, "release/dev")},
		{r.Tip(t, "JIRA-1"), r.Tip(t, "JIRA-1")},
	} {
		got, err := m.Log(ctx, tc.base, tc.tip)
		if err != nil {
			t.Fatalf("Log(%s, %s): %v", tc.base, tc.tip, err)
		}
		args := []string{"rev-list", tc.tip}
		if tc.base != "" {
			args = append(args, "^"+tc.base)
		}
		var want []string
		if out := gittest.Git(t, r.Dir, args...); out != "" {
			want = strings.Split(out, "\n")
		}
		var gotSHAs []string
		for _, c := range got {
			gotSHAs = append(gotSHAs, c.SHA)
			// Files against the first parent, as git sees them.
			var files string
			if len(c.Parents) == 0 {
				files = gittest.Git(t, r.Dir, "ls-tree", "-r", "--name-only", c.SHA)
			} else {
				files = gittest.Git(t, r.Dir, "diff-tree", "-r", "--name-only", "--no-commit-id", c.Parents[0], c.SHA)
			}
			wantFiles := strings.Split(files, "\n")
			if files == "" {
				wantFiles = nil
			}
			if diff := cmp.Diff(wantFiles, c.Files); diff != "" {
				t.Errorf("Files of %s %q (-git +Log):\n%s", c.SHA[:8], c.Subject, diff)
			}
			if want := gittest.Git(t, r.Dir, "log", "-1", "--format=%P", c.SHA); strings.Join(c.Parents, " ") != want {
				t.Errorf("Parents of %s = %v, want %s", c.SHA[:8], c.Parents, want)
			}
			if want := gittest.Git(t, r.Dir, "log", "-1", "--format=%s", c.SHA); c.Subject != want {
				t.Errorf("Subject of %s = %q, want %q", c.SHA[:8], c.Subject, want)
			}
			if c.Author != gittest.UserName {
				t.Errorf("Author of %s = %q, want %q", c.SHA[:8], c.Author, gittest.UserName)
			}
		}
		// Commits made within one second have equal dates, which git and
		// Log may order differently: compare the sets, and the order of
		// the dates.
		sort.Strings(want)
		sorted := append([]string(nil), gotSHAs...)
		sort.Strings(sorted)
		if diff := cmp.Diff(want, sorted); diff != "" {
			t.Errorf("Log(%.8s, %.8s) commits (-git +Log):\n%s", tc.base, tc.tip, diff)
		}
		for i := 1; i < len(got); i++ {
			if got[i].When.After(got[i-1].When) {
				t.Errorf("Log(%.8s, %.8s): %s is newer than the commit before it", tc.base, tc.tip, got[i].SHA[:8])
			}
		}
	}
	c, err := m.Log(ctx, root, r.Tip(t, "JIRA-1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "JIRA-1: first\n\nbody line\n\nTicket: JIRA-1\n"; c[len(c)-1].Message != want {
		t.Errorf("Message = %q, want %q", c[len(c)-1].Message, want)
	}
}
