package merge

import (
	"os"
	"path/filepath"
	"testing"
)

// TestConfigValueAsGit: core.commitGraph is read as git reads it, checked
// against `git config --bool` on the same files.
func TestConfigValueAsGit(t *testing.T) {
	requireGit(t)
	for _, cfg := range []string{
		"[core]\n\tcommitGraph = false\n",
		"[core]\n\tcommitGraph = true\n\tcommitGraph = no\n",
		"[core]\n\tcommitGraph = no\n\tcommitGraph\n", // a key alone is true
		"[Core]\n\tCOMMITGRAPH=off # comment\n",
		"[core] commitgraph = 0\n",
		"[core \"x\"]\n\tcommitGraph = false\n", // a subsection is another section
		"[core.x]\n\tcommitGraph = false\n",
		"[core]\n\tcommitGraph = \"false\"\n",
		"[core]\n\tcommitGraph =\n", // empty is false
		"[core]\n\tbare = true\n[user]\n\tcommitGraph = false\n",
		"[core]\n\t; commitGraph = false\n\t# commitGraph = false\n",
		"",
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "config")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := gitCmd(t, dir, nil, "config", "--file", path, "--bool", "core.commitGraph")
		want := "unset"
		if code == 0 {
			want = out[:len(out)-1]
		}
		got := "unset"
		if v, ok := configValue([]byte(cfg), "core", "commitGraph"); ok {
			got = "true"
			if isGitFalse(v) {
				got = "false"
			}
		}
		if got != want {
			t.Errorf("config %q: read %s, git reads %s", cfg, got, want)
		}
	}
}

// TestCommitGraphNotUsedWhenGitWouldNot: a commit-graph is left alone in a
// repository whose config turns it off and in a shallow repository, as
// git leaves it.
func TestCommitGraphNotUsedWhenGitWouldNot(t *testing.T) {
	requireGit(t)
	dir := t.TempDir()
	mbGit(t, dir, nil, "init", "-q", "--bare")
	stream := "commit refs/heads/master\ncommitter t <t@example.com> 1700000000 +0000\ndata 2\nc\n\n"
	mbGit(t, dir, []byte(stream), "fast-import", "--quiet")
	mbGit(t, dir, nil, "commit-graph", "write", "--reachable")
	objects := filepath.Join(dir, "objects")
	uses := func() bool {
		f := openMappedGraphFile(objects)
		if f != nil {
			f.close()
		}
		return f != nil
	}
	if !uses() {
		t.Fatal("the commit-graph is not used in a plain repository")
	}
	mbGit(t, dir, nil, "config", "core.commitGraph", "false")
	if uses() {
		t.Fatal("the commit-graph is used with core.commitGraph=false")
	}
	mbGit(t, dir, nil, "config", "core.commitGraph", "true")
	head, _ := mbGit(t, dir, nil, "rev-parse", "master")
	if err := os.WriteFile(filepath.Join(dir, "shallow"), []byte(head), 0o644); err != nil {
		t.Fatal(err)
	}
	if uses() {
		t.Fatal("the commit-graph is used in a shallow repository")
	}
}
