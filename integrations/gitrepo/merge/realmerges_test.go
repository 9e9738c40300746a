package merge

import (
	"context"
	"flag"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

var (
	realRepo   = flag.String("ort.repo", "", "a bare repository whose merge commits TestRealMerges re-merges (objects are written into it)")
	realMerges = flag.Int("ort.merges", 200, "how many of the newest merge commits TestRealMerges re-merges")
)

// TestRealMerges re-merges the two parents of real merge commits with this
// engine and with git merge-tree and requires the same result. It needs a
// repository: go test -run TestRealMerges -ort.repo=/path/to/repo.git
func TestRealMerges(t *testing.T) {
	if *realRepo == "" {
		t.Skip("skipping: no -ort.repo given (a bare repository with merge commits)")
	}
	requireGit(t)
	out, _ := gitCmd(t, *realRepo, nil, "rev-list", "--merges", "--max-parents=2", "-n", strconv.Itoa(*realMerges), "--all")
	st := filesystem.NewStorageWithOptions(osfs.New(*realRepo), cache.NewObjectLRUDefault(), filesystem.Options{KeepDescriptors: true})
	defer st.Close()
	if _, err := git.Open(st, nil); err != nil {
		t.Fatal(err)
	}
	// as merge-tree and the mirror read it: the pack reader, and the
	// repository's commit-graph if it has one
	m, err := NewOnDisk(st, filepath.Join(*realRepo, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	var same, differ int
	for _, line := range strings.Fields(out) {
		parents, _ := gitCmd(t, *realRepo, nil, "rev-parse", line+"^1", line+"^2")
		ps := strings.Fields(parents)
		want, wantClean := ortGitMergeTree(t, *realRepo, ps[0], ps[1])
		res, err := m.MergeCommits(ctx, plumbing.NewHash(ps[0]), plumbing.NewHash(ps[1]), Options{OursLabel: ps[0], TheirsLabel: ps[1]})
		if err != nil {
			t.Fatalf("merge %s: %v", line, err)
		}
		if res.Clean() != wantClean || formatForTest(res) != conflictInfoOnly(want) {
			differ++
			t.Errorf("merge %s (%s + %s) differs from git\n--- git\n%s--- engine\n%s", line, ps[0], ps[1], conflictInfoOnly(want), formatForTest(res))
			continue
		}
		same++
	}
	t.Logf("%s (commit-graph: %v): %d merges identical to git, %d differ", *realRepo, m.graph.file != nil, same, differ)
}
