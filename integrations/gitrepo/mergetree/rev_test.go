package mergetree

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/integrations/gitrepo/merge"
)

// TestRevisionsAsGit resolves revisions of every form merge-tree takes
// (branches, lightweight, annotated and nested tags, a tag and a branch of
// the same name, a branch named like an abbreviated id, HEAD, ^, ^N, ~N,
// ^{}, full and abbreviated ids) and ones that name no commit, and checks
// each against `git rev-parse --verify REV^{commit}`, in a repository with
// a worktree, loose objects, and again packed. Reflog and message-search
// forms are refused.
func TestRevisionsAsGit(t *testing.T) {
	gittest.RequireGit(t)
	dir := t.TempDir()
	git := func(args ...string) string { return gittest.Git(t, dir, args...) }
	git("init", "-q", "-b", "master")
	commit := func(file, body string) string {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		git("add", "-A")
		git("commit", "-q", "-m", file+body)
		return git("rev-parse", "HEAD")
	}
	c1 := commit("f", "1\n")
	c2 := commit("f", "2\n")
	git("checkout", "-q", "-b", "a")
	commit("g", "a1\n")
	commit("g", "a2\n")
	git("checkout", "-q", "master")
	c3 := commit("f", "3\n")
	git("merge", "-q", "--no-edit", "a")
	git("tag", "light", c1)
	git("tag", "-a", "-m", "v1", "v1", c2)
	git("tag", "-a", "-m", "v2", "v2", "v1") // a tag of a tag
	git("branch", "dup", c3)
	git("tag", "dup", c1) // git prefers the tag
	git("branch", c2[:4], c1)
	blob := git("rev-parse", "master:f")

	revs := []string{
		"master", "HEAD", "@", "a", "refs/heads/a", "heads/a", "light", "v1", "v2", "tags/v1", "dup",
		"master~1", "master~2", "master~", "master^", "master^1", "master^2", "master^2~1", "master^^", "master~1^0",
		"v1^{}", "v1^{commit}", "master^{}", "master~0",
		c2, c2[:7], c3[:5], c2[:4], "HEAD~3",
		// naming no commit
		"nope", "master~99", "master^3", "a^2", blob, blob[:8], "zzzz", "master^{tree}",
		// paths out of the refs, and files of the git directory that are no refs
		"../HEAD", "refs/heads/../../HEAD", "/HEAD", "refs//heads/a", "config", "description", "objects",
	}
	// forms git takes and merge-tree does not: an error, never another commit
	unsupported := []string{"master@{1}", "master^{/f2}", ":/f2"}
	check := func(t *testing.T) {
		checkRevisions(t, dir, revs)
		lr, m := openForRevisions(t, dir)
		for _, rev := range unsupported {
			if got, err := resolveCommit(lr.refs, m, rev); err == nil {
				t.Errorf("%q: resolved to %s, want an error", rev, got)
			}
		}
	}
	t.Run("loose", check)
	git("gc", "-q")
	t.Run("packed", check)
}

// TestBrokenRefsAsGit: refs that are not what git writes — a loose ref of
// garbage, a symbolic ref to nothing, two symbolic refs naming each other,
// a packed-refs line that does not parse — name no commit, as for git
// rev-parse; none panics or names another commit.
func TestBrokenRefsAsGit(t *testing.T) {
	gittest.RequireGit(t)
	dir := t.TempDir()
	sourceRepo(t, dir, false)
	gitDir := filepath.Join(dir, ".git")
	writeRef := func(name, content string) {
		path := filepath.Join(gitDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeRef("refs/heads/garbage", "hello\n")
	writeRef("refs/heads/short", "9a4ba77\n")
	writeRef("refs/heads/dangling", "ref: refs/heads/nothing\n")
	writeRef("refs/heads/loop1", "ref: refs/heads/loop2\n")
	writeRef("refs/heads/loop2", "ref: refs/heads/loop1\n")
	check := func(t *testing.T, revs ...string) { checkRevisions(t, dir, revs) }
	t.Run("loose", func(t *testing.T) { check(t, "garbage", "short", "dangling", "loop1", "a", "b") })
	t.Run("packed-refs with a line that does not parse", func(t *testing.T) {
		packed := filepath.Join(gitDir, "packed-refs")
		b, err := os.ReadFile(packed)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(packed, append(b, "not a packed ref\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		check(t, "a", "master", "nope")
	})
}

// openForRevisions opens the repository of dir as merge-tree does; the
// test closes it.
func openForRevisions(t *testing.T, dir string) (*localRepo, *merge.Merger) {
	t.Helper()
	lr, err := openLocalRepo(dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lr.Close() })
	m, err := merge.NewOnDisk(lr.objs, lr.objectsDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return lr, m
}

// checkRevisions resolves each revision in the repository of dir and
// checks it against git rev-parse --verify REV^{commit}: the same commit,
// or an error where git names none.
func checkRevisions(t *testing.T, dir string, revs []string) {
	t.Helper()
	lr, m := openForRevisions(t, dir)
	for _, rev := range revs {
		want, gitErr := gittest.RunGit(dir, nil, "rev-parse", "-q", "--verify", rev+"^{commit}")
		got, err := resolveCommit(lr.refs, m, rev)
		switch {
		case gitErr != nil && err == nil:
			t.Errorf("%q: resolved to %s; git names no commit", rev, got)
		case gitErr == nil && err != nil:
			t.Errorf("%q: %v; git says %s", rev, err, want)
		case gitErr == nil && got.String() != want:
			t.Errorf("%q: resolved to %s; git says %s", rev, got, want)
		}
	}
}
