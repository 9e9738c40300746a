package mergetree

import (
	"bytes"
	"compress/zlib"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
)

// sourceRepo makes a repository with a base and two branches, a and b,
// that merge cleanly, packed (gc) unless loose.
func sourceRepo(t *testing.T, dir string, loose bool) {
	t.Helper()
	w := gittest.InitWork(t, dir)
	w.Commit(t, "base", map[string]string{"f.txt": "1\n2\n3\n"})
	for _, br := range []struct{ name, file, body string }{{"a", "f.txt", "1\n2\n3\n4\n"}, {"b", "g.txt", "g\n"}} {
		w.Branch(t, br.name, "master")
		w.Commit(t, br.name, map[string]string{br.file: br.body})
	}
	if !loose {
		w.Git(t, "gc", "-q")
	}
}

// mergeAB merges b into a in dir as merge-tree does (its warnings into
// stderr, when not nil), and as git does.
func mergeAB(t *testing.T, dir string, stderr *bytes.Buffer) (got string, err error, want string, gitErr error) {
	t.Helper()
	env := Env{Dir: dir, Getenv: func(string) string { return "" }}
	if stderr != nil {
		env.Stderr = stderr
	}
	res, err := Merge(context.Background(), env, "a", "b")
	if err == nil {
		got = res.Tree.String()
	}
	want, gitErr = gittest.RunGit(dir, nil, "merge-tree", "--write-tree", "a", "b")
	return got, err, strings.TrimSpace(want), gitErr
}

// TestAlternatesAsGit: the object directories named in
// objects/info/alternates are read as git reads them: each once (the
// repository's own, a repeated one and a cycle skipped), one that does not
// exist skipped, comments ignored, and none deeper than git's six levels
// — where git cannot find an object for that reason, merge-tree fails too.
func TestAlternatesAsGit(t *testing.T) {
	gittest.RequireGit(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	sourceRepo(t, src, false)
	srcObjects := filepath.Join(src, ".git", "objects")
	clone := func(name, from string) string {
		d := filepath.Join(tmp, name)
		gittest.Git(t, tmp, "clone", "-q", "--bare", "--shared", from, d)
		return d
	}
	setAlternates := func(repo string, lines ...string) {
		if err := os.WriteFile(filepath.Join(repo, "objects", "info", "alternates"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(t *testing.T, repo string) string {
		var stderr bytes.Buffer
		got, err, want, gitErr := mergeAB(t, repo, &stderr)
		switch {
		case gitErr != nil && err == nil:
			t.Errorf("merged to %s where git fails: %v", got, gitErr)
		case gitErr == nil && err != nil:
			t.Errorf("%v; git merges to %s", err, want)
		case gitErr == nil && got != want:
			t.Errorf("merged to %s, git to %s", got, want)
		}
		return stderr.String()
	}

	t.Run("repeated, missing, own and commented directories", func(t *testing.T) {
		repo := clone("odd", src)
		setAlternates(repo, "# a comment", filepath.Join(tmp, "no-such-dir"), srcObjects, srcObjects,
			filepath.Join(repo, "objects"), "../../src/.git/objects")
		warnings := check(t, repo)
		lr, err := openLocalRepo(repo, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		defer lr.Close()
		if alts, err := lr.objs.alternates(); err != nil || len(alts) != 1 {
			t.Errorf("%d alternate directories opened (%v), want src's once", len(alts), err)
		}
		if want := "warning: object directory " + filepath.Join(tmp, "no-such-dir") + " does not exist; check " +
			filepath.Join(repo, "objects", "info", "alternates") + "\n"; warnings != want {
			t.Errorf("warnings %q, want %q", warnings, want)
		}
	})
	t.Run("a cycle", func(t *testing.T) {
		one := clone("cycle-1", src)
		two := clone("cycle-2", one) // two → one → src
		setAlternates(one, srcObjects, filepath.Join(two, "objects"))
		check(t, two)
		check(t, one)
	})
	t.Run("nested up to seven levels down", func(t *testing.T) {
		prev := src
		var chain []string
		for i := range 7 {
			prev = clone("chain-"+string(rune('a'+i)), prev)
			chain = append(chain, prev)
		}
		for _, repo := range chain {
			check(t, repo) // src's objects one to seven levels down: git finds them at six, not at seven
		}
		var stderr bytes.Buffer
		if _, err, _, gitErr := mergeAB(t, chain[len(chain)-1], &stderr); gitErr == nil || err == nil {
			t.Fatalf("git (%v) and merge-tree (%v) merged where src is seven levels down; the test means to check a failure", gitErr, err)
		}
		if !strings.Contains(stderr.String(), "warning: "+filepath.Join(chain[0], "objects")+": ignoring alternate object stores, nesting too deep") {
			t.Errorf("no warning that the alternates of %s are ignored: %q", chain[0], stderr.String())
		}
	})
}

// TestBrokenLooseObjects: a loose object that is not what git writes —
// garbage, cut short, a header that lies about the size or names no type —
// makes the merge fail with the object's id in the error, as git fails,
// never a merge of wrong content.
func TestBrokenLooseObjects(t *testing.T) {
	gittest.RequireGit(t)
	for name, damage := range map[string]func(t *testing.T, path string, raw []byte) []byte{
		"garbage": func(*testing.T, string, []byte) []byte { return []byte("not zlib at all") },
		"cut short": func(_ *testing.T, _ string, raw []byte) []byte {
			return raw[:len(raw)/2]
		},
		"a header that lies about the size": func(t *testing.T, _ string, _ []byte) []byte {
			return deflate(t, "blob 999\x001\n2\n3\n4\n")
		},
		"a header of no type": func(t *testing.T, _ string, _ []byte) []byte {
			return deflate(t, "bolb 8\x001\n2\n3\n4\n")
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			sourceRepo(t, dir, true)
			blob := gittest.Git(t, dir, "rev-parse", "a:f.txt")
			path := filepath.Join(dir, ".git", "objects", blob[:2], blob[2:])
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, damage(t, path, raw), 0o644); err != nil {
				t.Fatal(err)
			}
			// b changed another file: the merge reads a's tree, and f.txt
			// only if it compares it, so make b change f.txt too
			gittest.Git(t, dir, "checkout", "-q", "b")
			if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte("0\n1\n2\n3\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			gittest.Git(t, dir, "commit", "-q", "-am", "b changes f.txt")
			got, err, _, gitErr := mergeAB(t, dir, nil)
			if gitErr == nil {
				t.Fatalf("git merged despite the damaged %s; the test means to check a failure", blob)
			}
			if err == nil {
				t.Fatalf("merged to %s with the blob %s damaged; git: %v", got, blob, gitErr)
			}
			if !strings.Contains(err.Error(), blob[:7]) {
				t.Errorf("the error does not name the damaged object %s: %v", blob, err)
			}
		})
	}
}

// deflate compresses s as a loose object file is.
func deflate(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestStoredZlibIsZlib: the loose objects merge-tree writes are zlib
// streams compress/zlib reads back whole, across the 64 KiB stored-block
// boundary (git reading them back is checked by
// TestMergeTreeRepositoryKinds).
func TestStoredZlibIsZlib(t *testing.T) {
	for _, n := range []int{0, 1, 100, 65535, 65536, 65537, 200000} {
		data := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
		zr, err := zlib.NewReader(bytes.NewReader(storedZlib(data)))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d bytes, %v", n, len(got), err)
		}
	}
}
