package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
)

// runCLI runs the command line in dir and returns the exit status and
// what it printed.
func runCLI(t *testing.T, dir string, getenv func(string) string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	if getenv == nil {
		getenv = noEnv
	}
	code = run(context.Background(), args, &env{stdout: &out, stderr: &errb, getenv: getenv, dir: dir})
	return code, out.String(), errb.String()
}

func TestDemo(t *testing.T) {
	gittest.RequireGit(t)
	tmp := t.TempDir()
	code, out, errs := runCLI(t, tmp, nil, "demo", "--keep", "--dir", tmp)
	if code != 0 {
		t.Fatalf("demo exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{
		"conflict (content) in stacks/network.yml",
		"JIRA-1 of @alice",
		"also in dev: JIRA-1 of @alice",
		"Nothing was pushed",
		"approval  asked dave for 1 approval",
		"bob presses Approve: sorry, only prod's approvers may vote",
		"approval  approved by dave",
		"released JIRA-1 to prod",
		"=== 5. /release status ===",
		"verification smoke failed",
		"rolled back: release/dev is at ",
		"left: JIRA-4",
		"demo: the story played as expected",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q\n%s", want, out)
		}
	}
	remotes, _ := filepath.Glob(filepath.Join(tmp, "code-releaser-demo-*", "remote.git"))
	if len(remotes) != 1 {
		t.Fatalf("kept remote: found %v", remotes)
	}
	for _, c := range []struct {
		ticket string
		in     bool
	}{{"JIRA-1", true}, {"JIRA-2", true}, {"JIRA-3", false}} {
		_, err := gittest.RunGit(remotes[0], nil, "merge-base", "--is-ancestor", "refs/heads/"+c.ticket, "refs/heads/release/dev")
		if got := err == nil; got != c.in {
			t.Errorf("release/dev contains %s: got %t, want %t (%v)", c.ticket, got, c.in, err)
		}
	}
}

func TestDemoRemovesItsDir(t *testing.T) {
	gittest.RequireGit(t)
	tmp := t.TempDir()
	if code, out, errs := runCLI(t, tmp, nil, "demo", "--dir", tmp); code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errs)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "code-releaser-demo-*")); len(left) != 0 {
		t.Errorf("demo left %v behind", left)
	}
}

// releaseFixture is a remote with master and JIRA-1, and a config file for it.
func releaseFixture(t *testing.T) (remote *gittest.Remote, dir string) {
	t.Helper()
	gittest.RequireGit(t)
	remote = gittest.NewRemote(t, "", "infra")
	w := remote.Clone(t)
	w.Git(t, "checkout", "-q", "-b", "master")
	w.Commit(t, "initial", map[string]string{"stacks/network.yml": "a: 1\nb: 2\n"})
	w.Push(t, "master")
	w.Branch(t, "JIRA-1", "master")
	w.Commit(t, "JIRA-1: change b", map[string]string{"stacks/network.yml": "a: 1\nb: 3\n"})
	w.Push(t, "JIRA-1")
	dir = t.TempDir()
	cfg := "repo: {url: " + remote.URL() + ", cache_dir: " + filepath.Join(dir, "cache") + "}\n" +
		"environments: [{name: dev}, {name: prod, production: true}]\n"
	if err := os.WriteFile(filepath.Join(dir, "code-releaser.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return remote, dir
}

func TestReleaseBadInput(t *testing.T) {
	remote, dir := releaseFixture(t)
	before := remote.Branches(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown env", []string{"JIRA-1", "qa"}, 2, `there is no env "qa"`},
		{"option-like ticket", []string{"-x", "dev"}, 2, `unknown option "-x"`},
		{"malformed ticket", []string{"--as", "alice", "--config", "code-releaser.yml", "--", "-x", "dev"}, 2, `"-x" is not a ticket key`},
		{"refspec ticket", []string{"a:b", "dev"}, 2, "is not a ticket key"},
		{"missing branch", []string{"JIRA-9", "dev"}, 1, "JIRA-9"},
		{"no user", []string{"JIRA-1", "dev", "--as", ""}, 2, "--as USER is required"},
		{"no config", []string{"JIRA-1", "dev", "--as", "alice", "--config", ""}, 2, "--config FILE is required"},
		{"missing config file", []string{"JIRA-1", "dev", "--as", "alice", "--config", "nope.yml"}, 2, "nope.yml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"release"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--as") {
				args = append(args, "--as", "alice", "--config", "code-releaser.yml")
			}
			code, out, errs := runCLI(t, dir, nil, args...)
			if code != tc.code {
				t.Errorf("exit status: got %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			if !strings.Contains(errs, tc.want) {
				t.Errorf("stderr: got %q, want it to contain %q", errs, tc.want)
			}
			if after := remote.Branches(t); !sameMap(before, after) {
				t.Errorf("the remote changed: before %v, after %v", before, after)
			}
		})
	}
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestReleaseStatusHistory(t *testing.T) {
	remote, dir := releaseFixture(t)
	code, out, errs := runCLI(t, dir, nil, "release", "JIRA-1", "dev", "--as", "alice", "--config", "code-releaser.yml")
	if code != 0 {
		t.Fatalf("release exited %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "@alice released JIRA-1 to dev") {
		t.Errorf("release output:\n%s", out)
	}
	if _, err := gittest.RunGit(remote.Dir, nil, "merge-base", "--is-ancestor", "refs/heads/JIRA-1", "refs/heads/release/dev"); err != nil {
		t.Errorf("release/dev lacks JIRA-1: %v", err)
	}
	code, out, errs = runCLI(t, dir, nil, "status", "--config", "code-releaser.yml")
	if code != 0 || !strings.Contains(out, "JIRA-1     released by @alice") || !strings.Contains(out, "from git") {
		t.Errorf("status: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCLI(t, dir, nil, "history", "dev", "5", "--config", "code-releaser.yml")
	if code != 0 || !strings.Contains(out, "Release JIRA-1 to dev for @alice") {
		t.Errorf("history: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := runCLI(t, dir, nil, "status", "qa", "--config", "code-releaser.yml"); code != 2 || !strings.Contains(errs, `"qa"`) {
		t.Errorf("status qa: exit %d, stderr %q", code, errs)
	}
}

func TestMergeTreeExitCodes(t *testing.T) {
	gittest.RequireGit(t)
	dir := t.TempDir()
	gittest.Git(t, dir, "init", "-q", "-b", "master")
	write := func(body string) {
		if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("1\n2\n3\n")
	gittest.Git(t, dir, "add", "-A")
	gittest.Git(t, dir, "commit", "-q", "-m", "base")
	gittest.Git(t, dir, "checkout", "-q", "-b", "a")
	write("1\nA\n3\n")
	gittest.Git(t, dir, "commit", "-q", "-am", "a")
	gittest.Git(t, dir, "checkout", "-q", "-b", "b", "master")
	write("1\nB\n3\n")
	gittest.Git(t, dir, "commit", "-q", "-am", "b")
	gittest.Git(t, dir, "checkout", "-q", "-b", "c", "master")
	if err := os.WriteFile(filepath.Join(dir, "g.txt"), []byte("g\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, dir, "add", "-A")
	gittest.Git(t, dir, "commit", "-q", "-m", "c")
	blob := gittest.Git(t, dir, "rev-parse", "master:f.txt")

	clean := gittest.Git(t, dir, "merge-tree", "--write-tree", "a", "c")
	for _, tc := range []struct {
		name   string
		dir    string
		args   []string
		code   int
		stdout string // prefix
		stderr string // substring
	}{
		{"clean", dir, []string{"a", "c"}, 0, clean, ""},
		{"conflict", dir, []string{"--name-only", "a", "b"}, 1, "", ""},
		{"unknown revision", dir, []string{"a", "nope"}, 128, "", `resolve "nope"`},
		{"blob", dir, []string{"a", blob}, 128, "", "not a commit"},
		{"not a repository", t.TempDir(), []string{"a", "b"}, 128, "", "not a git repository"},
		{"one revision", dir, []string{"a"}, 2, "", "need exactly two revisions"},
		{"unknown option", dir, []string{"--frob", "a", "b"}, 2, "", `unknown option "--frob"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.dir, nil, append([]string{"merge-tree"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit: got %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			if tc.stdout != "" && !strings.HasPrefix(out, tc.stdout) {
				t.Errorf("stdout: got %q, want prefix %q", out, tc.stdout)
			}
			if !strings.Contains(errs, tc.stderr) {
				t.Errorf("stderr: got %q, want %q", errs, tc.stderr)
			}
			if tc.code == mergeTreeFailed && !strings.HasPrefix(errs, "code-releaser merge-tree: ") {
				t.Errorf("stderr: got %q, want the reason after \"code-releaser merge-tree: \"", errs)
			}
			if tc.name == "conflict" && !strings.Contains(out, "f.txt") {
				t.Errorf("conflict output lacks f.txt: %q", out)
			}
		})
	}
}

// TestMergeTreeRepositoryKinds runs merge-tree wherever git merge-tree
// runs: the top and a subdirectory of a repository with a worktree, a
// linked worktree (a .git file), a bare repository made by init and push,
// a bare clone, a mirror, a clone that borrows its objects (alternates),
// and $GIT_DIR; each gives git's output and exit
// status for a clean and a conflicted merge.
func TestMergeTreeRepositoryKinds(t *testing.T) {
	gittest.RequireGit(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	w := gittest.InitWork(t, src)
	w.Commit(t, "base", map[string]string{"f.txt": "1\n2\n3\n", "sub/deeper/keep": "k\n"})
	for _, br := range []struct{ name, file, body string }{
		{"a", "f.txt", "1\nA\n3\n"}, {"b", "f.txt", "1\nB\n3\n"}, {"c", "g.txt", "g\n"},
	} {
		w.Branch(t, br.name, "master")
		w.Commit(t, br.name, map[string]string{br.file: br.body})
	}
	w.Checkout(t, "master")
	wantClean := gittest.Git(t, src, "merge-tree", "--write-tree", "a", "c")

	bareClone := filepath.Join(tmp, "clone.git")
	gittest.Git(t, tmp, "clone", "-q", "--bare", src, bareClone)
	mirror := filepath.Join(tmp, "mirror.git")
	gittest.Git(t, tmp, "clone", "-q", "--mirror", src, mirror)
	shared := filepath.Join(tmp, "shared.git")
	gittest.Git(t, tmp, "clone", "-q", "--bare", "--shared", src, shared)
	if _, err := os.Stat(filepath.Join(shared, "objects", "info", "alternates")); err != nil {
		t.Fatal(err)
	}
	// objects packed in the alternate, and an alternate of an alternate
	packedSrc := filepath.Join(tmp, "packed.git")
	gittest.Git(t, tmp, "clone", "-q", "--bare", src, packedSrc)
	gittest.Git(t, packedSrc, "gc", "-q")
	sharedPacked := filepath.Join(tmp, "shared-packed.git")
	gittest.Git(t, tmp, "clone", "-q", "--bare", "--shared", packedSrc, sharedPacked)
	chained := filepath.Join(tmp, "chained.git")
	gittest.Git(t, tmp, "clone", "-q", "--bare", "--shared", sharedPacked, chained)
	relative := filepath.Join(tmp, "relative.git") // alternates relative to the objects directory
	gittest.Git(t, tmp, "clone", "-q", "--bare", "--shared", packedSrc, relative)
	if err := os.WriteFile(filepath.Join(relative, "objects", "info", "alternates"), []byte("../../packed.git/objects\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	initBare := filepath.Join(tmp, "init.git")
	gittest.Git(t, tmp, "init", "-q", "--bare", initBare)
	gittest.Git(t, src, "push", "-q", initBare, "a", "b", "c")
	linked := filepath.Join(tmp, "linked")
	gittest.Git(t, src, "worktree", "add", "-q", linked, "c")
	if _, err := os.Stat(filepath.Join(linked, ".git")); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, dir string
		getenv    func(string) string
	}{
		{"worktree top", src, nil},
		{"worktree subdirectory", filepath.Join(src, "sub", "deeper"), nil},
		{"linked worktree", linked, nil},
		{"init --bare", initBare, nil},
		{"clone --bare", bareClone, nil},
		{"clone --mirror", mirror, nil},
		{"clone --shared (objects in an alternate directory)", shared, nil},
		{"clone --shared of a packed repository", sharedPacked, nil},
		{"clone --shared of a clone --shared (alternates of alternates)", chained, nil},
		{"alternates with a relative path", relative, nil},
		{"mirror subdirectory", filepath.Join(mirror, "refs"), nil},
		{"GIT_DIR", t.TempDir(), func(k string) string {
			if k == "GIT_DIR" {
				return mirror
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.dir, tc.getenv, "merge-tree", "a", "c")
			if code != 0 || out != wantClean+"\n" {
				t.Errorf("clean merge: exit %d, stdout %q, stderr %q; want exit 0 and git's %q", code, out, errs, wantClean)
			}
			code, out, errs = runCLI(t, tc.dir, tc.getenv, "merge-tree", "--name-only", "a", "b")
			if code != 1 || !strings.Contains(out, "\nf.txt\n") {
				t.Errorf("conflicted merge: exit %d, stdout %q, stderr %q; want exit 1 naming f.txt", code, out, errs)
			}
			// the trees and the conflicted file it wrote are objects git reads
			tree, _, _ := strings.Cut(out, "\n")
			var gitDir []string
			if tc.getenv != nil {
				gitDir = []string{"--git-dir=" + tc.getenv("GIT_DIR")}
			}
			blob, err := gittest.RunGit(tc.dir, nil, append(gitDir, "rev-parse", tree+":f.txt")...)
			if err != nil {
				t.Fatalf("git cannot read the conflicted merge's tree %s: %v", tree, err)
			}
			body, err := gittest.RunGit(tc.dir, nil, append(gitDir, "cat-file", "blob", blob)...)
			if err != nil || !strings.Contains(body, "<<<<<<< a\n") || !strings.Contains(body, ">>>>>>> b") {
				t.Errorf("git reads the conflicted f.txt as %q (%v); want conflict markers", body, err)
			}
		})
	}
}
