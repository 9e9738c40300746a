package gitrepo

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v2 "github.com/go-git/go-git/v5/plumbing/format/commitgraph/v2"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/workflow"
)

// graphCommits reads the mirror's commit-graph with go-git's reader (an
// independent check of the file) and returns how many commits it lists; -1
// when there is no file.
func graphCommits(t *testing.T, m *Mirror) int {
	t.Helper()
	f, err := os.Open(filepath.Join(m.Dir(), "objects", "info", "commit-graph"))
	if os.IsNotExist(err) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	idx, err := v2.OpenFileIndex(f)
	if err != nil {
		t.Fatalf("go-git cannot read the commit-graph: %v", err)
	}
	defer idx.Close()
	if !idx.HasGenerationV2() {
		t.Error("the commit-graph has no corrected commit dates (GDA2)")
	}
	return int(idx.MaximumNumberOfHashes())
}

// TestFetchWritesCommitGraph: every fetch that changes the mirror leaves a
// commit-graph of all its branches that git verifies and uses, and merges
// in the mirror (criss-cross included) give git's result with it.
func TestFetchWritesCommitGraph(t *testing.T) {
	r, w := seed(t)
	m := openMirror(t, r.URL(), Auth{})
	ctx := context.Background()
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if got := graphCommits(t, m); got != 1 {
		t.Fatalf("commit-graph after the first fetch lists %d commits, want 1", got)
	}
	// Later fetches rewrite it once graphMinNew commits are missing from it.
	m.graphMinNew = 7
	w.Commit(t, "one more", map[string]string{"x.txt": "1\n"})
	w.Push(t, "master")
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if got := graphCommits(t, m); got != 1 {
		t.Fatalf("after a fetch of one commit (fewer than 7 missing): %d commits in the commit-graph, want the old 1", got)
	}
	// A criss-cross: a and b each merge the other's first commit.
	w.Branch(t, "a", "master")
	w.Commit(t, "a1", map[string]string{"stacks/app.yml": "a: 10\nb: 2\nc: 3\n"})
	w.Branch(t, "b", "master")
	w.Commit(t, "b1", map[string]string{"stacks/app.yml": "a: 1\nb: 2\nc: 30\n"})
	w.Checkout(t, "a")
	w.Git(t, "merge", "-q", "--no-edit", "b")
	w.Checkout(t, "b")
	w.Git(t, "merge", "-q", "--no-edit", "a~1")
	w.Commit(t, "b2", map[string]string{"other.txt": "x\n"})
	w.Checkout(t, "a")
	w.Commit(t, "a2", map[string]string{"README.md": "infra!\n"})
	w.Push(t, "a", "b")
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	all := gittest.Git(t, m.Dir(), "rev-list", "--all", "--count")
	if got := graphCommits(t, m); strings.TrimSpace(all) != strconv.Itoa(got) {
		t.Fatalf("commit-graph lists %d commits, the mirror has %s", got, all)
	}
	gittest.Git(t, m.Dir(), "commit-graph", "verify", "--no-progress")
	bases := gittest.Git(t, m.Dir(), "merge-base", "--all", "a", "b")
	if n := len(strings.Fields(bases)); n != 2 {
		t.Fatalf("want a criss-cross (2 merge bases), git says %q", bases)
	}
	a, _, _ := m.Tip(ctx, "a")
	b, _, _ := m.Tip(ctx, "b")
	out, err := m.Merge(ctx, workflow.MergeRequest{Ours: a, Theirs: b, OursLabel: "a", TheirsLabel: "b", Message: "merge b\n", Author: "T"})
	if err != nil {
		t.Fatal(err)
	}
	wantTree := gittest.Git(t, m.Dir(), "merge-tree", "--write-tree", "a", "b")
	if gotTree := gittest.Git(t, m.Dir(), "rev-parse", out.SHA+"^{tree}"); gotTree != wantTree {
		t.Errorf("merge tree %s, git merge-tree with the commit-graph says %s", gotTree, wantTree)
	}

	// A fetch that changes nothing leaves the file; one that finds it gone
	// writes it again.
	if err := os.Remove(filepath.Join(m.Dir(), "objects", "info", "commit-graph")); err != nil {
		t.Fatal(err)
	}
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if got := graphCommits(t, m); strconv.Itoa(got) != strings.TrimSpace(all) {
		t.Errorf("after an empty fetch without a file: %d commits in the commit-graph, want %s", got, all)
	}
}
