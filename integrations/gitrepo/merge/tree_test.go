package merge

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// TestEncodeTreeMatchesGit: the trees a merge writes have the id git gives
// the same entries (git mktree), in git's order: a directory sorts as if
// its name ended with '/'.
func TestEncodeTreeMatchesGit(t *testing.T) {
	requireGit(t)
	dir := t.TempDir()
	mbGit(t, dir, nil, "init", "-q", "--bare")
	id := func(s string) plumbing.Hash { return plumbing.NewHash(s) }
	entries := []treeEntry{
		{"a.b", filemode.Regular, id("45b983be36b73c0788dc9cbcb76cbb80fc7bb057")},
		{"a", filemode.Dir, id("4b825dc642cb6eb9a060e54bf8d69288fbee4904")},
		{"a-", filemode.Executable, id("45b983be36b73c0788dc9cbcb76cbb80fc7bb057")},
		{"a0", filemode.Symlink, id("45b983be36b73c0788dc9cbcb76cbb80fc7bb057")},
		{"sub", filemode.Submodule, id("1111111111111111111111111111111111111111")},
		{"Z", filemode.Regular, id("45b983be36b73c0788dc9cbcb76cbb80fc7bb057")},
		{"ü tab\there", filemode.Regular, id("45b983be36b73c0788dc9cbcb76cbb80fc7bb057")},
	}
	var in strings.Builder
	for _, e := range entries {
		typ := map[filemode.FileMode]string{filemode.Dir: "tree", filemode.Submodule: "commit"}[e.mode]
		if typ == "" {
			typ = "blob"
		}
		fmt.Fprintf(&in, "%06o %s %s\t%s\x00", uint32(e.mode), typ, e.hash, e.name)
	}
	want, _ := mbGit(t, dir, []byte(in.String()), "mktree", "-z", "--missing")
	obj, err := encodeTree(entries)
	if err != nil {
		t.Fatal(err)
	}
	if got := obj.Hash().String(); got != strings.TrimSpace(want) {
		t.Fatalf("tree id %s, git mktree made %s", got, strings.TrimSpace(want))
	}
	empty, err := encodeTree(nil)
	if err != nil {
		t.Fatal(err)
	}
	if empty.Hash().String() != "4b825dc642cb6eb9a060e54bf8d69288fbee4904" {
		t.Fatalf("empty tree %s", empty.Hash())
	}
	if _, err := encodeTree([]treeEntry{{name: "a\x00b", mode: filemode.Regular}}); err == nil {
		t.Fatal("a name with a NUL was encoded")
	}
}

// TestParseTreeModesAsGit: modes that are not git's canonical ones (old
// trees have 100664, tools write others) are read as git's tree walk reads
// them, checked against git ls-tree on the same raw tree.
func TestParseTreeModesAsGit(t *testing.T) {
	requireGit(t)
	dir := t.TempDir()
	mbGit(t, dir, nil, "init", "-q", "--bare")
	blob := plumbing.NewHash("45b983be36b73c0788dc9cbcb76cbb80fc7bb057")
	var raw []byte
	modes := []string{"100664", "100744", "100655", "100600", "100755", "120777", "160755", "40755", "40000"}
	for i, m := range modes {
		raw = append(raw, fmt.Sprintf("%s n%d\x00", m, i)...)
		raw = append(raw, blob[:]...)
	}
	path := filepath.Join(dir, "raw.tree")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	tree, _ := mbGit(t, dir, nil, "hash-object", "-t", "tree", "--literally", "-w", path)
	want, _ := mbGit(t, dir, nil, "ls-tree", "--format=%(objectmode) %(path)", strings.TrimSpace(tree))
	got, err := parseTree(raw)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range got {
		if e.hash != blob {
			t.Fatalf("%s: id %s", e.name, e.hash)
		}
		fmt.Fprintf(&b, "%06o %s\n", uint32(e.mode), e.name)
	}
	if b.String() != want {
		t.Fatalf("modes read\n%s\ngit ls-tree\n%s", b.String(), want)
	}
}

// TestParseTreeRejectsMalformed: a broken tree is an error naming what is
// wrong, never a panic or a partial list.
func TestParseTreeRejectsMalformed(t *testing.T) {
	id := bytes.Repeat([]byte{0xab}, 20)
	for name, raw := range map[string][]byte{
		"truncated id": append([]byte("100644 a\x00"), id[:7]...),
		"no NUL":       []byte("100644 a"),
		"empty name":   append([]byte("100644 \x00"), id...),
		"bad mode":     append([]byte("10a644 a\x00"), id...),
		"no mode":      append([]byte(" a\x00"), id...),
		"no space":     []byte("100644"),
	} {
		entries, err := parseTree(raw)
		if !errors.Is(err, errMalformedTree) || entries != nil {
			t.Errorf("%s: %v, %v; want errMalformedTree", name, entries, err)
		}
	}
	if entries, err := parseTree(nil); err != nil || len(entries) != 0 {
		t.Fatalf("empty tree: %v, %v", entries, err)
	}
}
