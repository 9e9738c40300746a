package gitrepo

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
)

// TestFetchStoresPacks fetches a history whose big file changes a little
// in each commit (deltas on deltas), then more commits of it, three times:
// each pack is indexed by the merge engine's indexer. After each fetch git
// finds the mirror sound (fsck: every object there, every index right),
// and the branch and its file are the remote's.
func TestFetchStoresPacks(t *testing.T) {
	r, w := seed(t)
	var big strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&big, "line %d of a file that changes a little in every commit\n", i)
	}
	edits := 0
	edit := func(n int) {
		for range n {
			body := strings.Replace(big.String(), fmt.Sprintf("line %d ", edits), fmt.Sprintf("LINE %d ", edits), 1)
			w.Commit(t, fmt.Sprintf("edit %d", edits), map[string]string{"big.txt": body})
			edits++
		}
		w.Push(t, "master")
	}
	edit(20)
	m := openMirror(t, r.URL(), Auth{})
	m.ownIndexMin = 0 // these packs are small
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		if err := m.Fetch(ctx); err != nil {
			t.Fatalf("fetch %d: %v", round, err)
		}
		gittest.Git(t, m.Dir(), "fsck", "--no-progress", "--no-dangling")
		want := gittest.Git(t, r.Dir, "rev-parse", "master")
		if got := gittest.Git(t, m.Dir(), "rev-parse", "master"); got != want {
			t.Fatalf("fetch %d: master is %s, the remote's %s", round, got, want)
		}
		// go-git's storage, which lists the packs once, sees the new one
		// (the push's fallback and ref updates read through it)
		if _, err := m.st.EncodedObject(plumbing.CommitObject, plumbing.NewHash(want)); err != nil {
			t.Fatalf("fetch %d: go-git's storage does not find the fetched master: %v", round, err)
		}
		files, err := m.Files(ctx, want)
		if err != nil {
			t.Fatalf("fetch %d: %v", round, err)
		}
		f, err := fs.ReadFile(files, "big.txt")
		if err != nil || strings.TrimSpace(string(f)) != gittest.Git(t, r.Dir, "show", "master:big.txt") {
			t.Fatalf("fetch %d: big.txt differs from the remote's (%v)", round, err)
		}
		edit(5)
	}
	packs, _ := filepath.Glob(filepath.Join(m.Dir(), "objects", "pack", "pack-*.idx"))
	if len(packs) < 3 {
		t.Errorf("%d packs after 3 fetches", len(packs))
	}
}
