package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/integrations/gitrepo/mergetree"
)

// TestMergeTree runs the command in a repository with a clean and a
// conflicted merge, an unknown revision and a usage mistake: git's output
// and exit statuses.
func TestMergeTree(t *testing.T) {
	gittest.RequireGit(t)
	dir := t.TempDir()
	w := gittest.InitWork(t, dir)
	w.Commit(t, "base", map[string]string{"f.txt": "1\n2\n3\n"})
	for _, br := range []struct{ name, file, body string }{
		{"a", "f.txt", "1\nA\n3\n"}, {"b", "f.txt", "1\nB\n3\n"}, {"c", "g.txt", "g\n"},
	} {
		w.Branch(t, br.name, "master")
		w.Commit(t, br.name, map[string]string{br.file: br.body})
	}
	clean := gittest.Git(t, dir, "merge-tree", "--write-tree", "a", "c")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string // whole output, when set
		stderr string // substring
	}{
		{"clean", []string{"a", "c"}, 0, clean + "\n", ""},
		{"conflict", []string{"--write-tree", "--name-only", "a", "b"}, 1, "", ""},
		{"unknown revision", []string{"a", "nope"}, 128, "", `code-releaser-merge-tree: resolve "nope"`},
		{"usage", []string{"a"}, 2, "", "need exactly two revisions\nusage: code-releaser-merge-tree [--name-only] OURS THEIRS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			code := run(context.Background(), tc.args, dir, func(string) string { return "" }, &out, &errs, mergetree.Merge)
			if code != tc.code || (tc.stdout != "" && out.String() != tc.stdout) || !strings.Contains(errs.String(), tc.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr with %q",
					code, out.String(), errs.String(), tc.code, tc.stdout, tc.stderr)
			}
			if tc.name == "conflict" && !strings.Contains(out.String(), "\nf.txt\n") {
				t.Errorf("conflict output lacks f.txt: %q", out.String())
			}
			// as the process runs it: the repository left open for the exit to release
			var exitOut, exitErrs bytes.Buffer
			exitCode := run(context.Background(), tc.args, dir, func(string) string { return "" }, &exitOut, &exitErrs, mergetree.MergeAndExit)
			if exitCode != code || exitOut.String() != out.String() || exitErrs.String() != errs.String() {
				t.Errorf("MergeAndExit: exit %d, stdout %q, stderr %q; Merge: exit %d, stdout %q, stderr %q",
					exitCode, exitOut.String(), exitErrs.String(), code, out.String(), errs.String())
			}
		})
	}
}

// TestMergeTreeWarns: what git only warns about (an alternate object
// directory that does not exist) is said on stderr under the command's
// name, and the merge goes on.
func TestMergeTreeWarns(t *testing.T) {
	gittest.RequireGit(t)
	dir := t.TempDir()
	w := gittest.InitWork(t, dir)
	w.Commit(t, "base", map[string]string{"f.txt": "1\n"})
	w.Branch(t, "a", "master")
	w.Commit(t, "a", map[string]string{"a.txt": "a\n"})
	alternates := filepath.Join(dir, ".git", "objects", "info", "alternates")
	missing := filepath.Join(dir, "gone", "objects")
	if err := os.WriteFile(alternates, []byte(missing+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := gittest.Git(t, dir, "merge-tree", "--write-tree", "master", "a") + "\n"
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"master", "a"}, dir, func(string) string { return "" }, &out, &errs, mergetree.Merge)
	wantErr := "code-releaser-merge-tree: warning: object directory " + missing + " does not exist; check " + alternates + "\n"
	if code != 0 || out.String() != want || errs.String() != wantErr {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 0, %q, %q", code, out.String(), errs.String(), want, wantErr)
	}
}

// TestLinksNoBot checks that the binary stays small to start: none of the
// bot's dependencies, whose package initialisation is most of
// code-releaser's start, is linked in, nor go-git's storage, config and
// object packages.
func TestLinksNoBot(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("skipped: go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bot := range []string{"github.com/aws/", "github.com/slack-go/", "github.com/redis/", "github.com/prometheus/",
			"github.com/andygrunwald/go-jira", "github.com/code-releaser/code-releaser/workflow", "github.com/code-releaser/code-releaser/bot",
			// go-git's storage, config and object packages: their initialisation (OpenPGP, gcfg and
			// encoding/gob, URL regexps) was a third of this binary's start; crypto/sha1 links the
			// FIPS module, compress/flate builds its tables at every start
			"github.com/ProtonMail/", "github.com/go-git/gcfg", "encoding/gob", "crypto/sha1", "compress/flate",
			"github.com/go-git/go-git/v5/storage", "github.com/go-git/go-git/v5/config", "github.com/go-git/go-git/v5/plumbing/object"} {
			if strings.HasPrefix(dep, bot) {
				t.Errorf("code-releaser-merge-tree links %s", dep)
			}
		}
	}
}
