package merge

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// TestRedoAfterRenames checks merge-ort's "redo after renames": when walking
// the directories set aside in the first walk (those one side left as the
// base) at least triples the paths collected, git detects renames, caches
// those of the relevant sources and walks again, now taking whole every
// set-aside directory that holds no cached rename destination. A file
// whose exact rename was found the first time though its source was not
// relevant (the other side left it as the base) is then no rename: its
// source's directory is taken whole and its destination is a plain
// addition.
//
// Here ours renames a/ to a2/ and edits one file of big/; theirs renames
// a/ to n/ and moves h/f7.txt into a/b/. With a big big/ git redoes: the
// redone walk takes h/ whole, and a/b/f7.txt is a file theirs added into a
// directory ours renamed ("file location", stage 3 only). With a small
// big/ git does not redo: h/f7.txt -> a/b/f7.txt stays a rename, moved to
// a2/b/f7.txt (stages 1, 2 and 3).
func TestRedoAfterRenames(t *testing.T) {
	requireGit(t)
	dir := t.TempDir()
	st := oracleRepo(t, dir).Storer
	m := New(st)
	ctx := context.Background()
	reg := func(c string) file { return file{filemode.Regular, c} }
	for _, c := range []struct {
		name       string
		bigFiles   int
		wantStages string // the stages git gives a2/b/f7.txt
	}{
		{"the set-aside directories triple the paths: git redoes", 30, "3"},
		{"they do not: git does not redo", 1, "123"},
	} {
		base := snapshot{
			"a/x.txt":         reg(lines("x", 12)),
			"a/b/y.txt":       reg(lines("y", 12)),
			"h/f7.txt":        reg(lines("f7", 12)),
			"h/keep.txt":      reg(lines("keep", 12)),
			"big/g/edit.txt":  reg(lines("edit", 12)),
			"other/stays.txt": reg(lines("stays", 12)),
		}
		for i := 0; i < c.bigFiles; i++ {
			p := fmt.Sprintf("big/b%02d.txt", i)
			base[p] = reg(lines(p, 8))
		}
		ours, theirs := base.clone(), base.clone()
		for _, mv := range [][2]string{{"a/x.txt", "a2/x.txt"}, {"a/b/y.txt", "a2/b/y.txt"}} {
			ours[mv[1]] = ours[mv[0]]
			delete(ours, mv[0])
		}
		ours["big/g/edit.txt"] = reg(strings.Replace(lines("edit", 12), "line 3\n", "line 3 edited\n", 1))
		for _, mv := range [][2]string{{"a/x.txt", "n/x.txt"}, {"a/b/y.txt", "n/b/y.txt"}, {"h/f7.txt", "a/b/f7.txt"}} {
			theirs[mv[1]] = theirs[mv[0]]
			delete(theirs, mv[0])
		}
		bc := writeCommit(t, st, writeSnapshot(t, st, base))
		oc := writeCommit(t, st, writeSnapshot(t, st, ours), bc)
		tc := writeCommit(t, st, writeSnapshot(t, st, theirs), bc)
		want, wantClean := ortGitMergeTree(t, dir, oc.String(), tc.String())
		stages := ""
		for _, l := range strings.Split(conflictInfoOnly(want), "\n") {
			if strings.HasSuffix(l, "\ta2/b/f7.txt") {
				stages += l[strings.IndexByte(l, '\t')-1:][:1]
			}
		}
		if stages != c.wantStages {
			t.Errorf("%s: git gives a2/b/f7.txt the stages %q, the case expects %q (it does not test what it says)\n%s", c.name, stages, c.wantStages, want)
		}
		res, err := m.MergeCommits(ctx, oc, tc, Options{OursLabel: "ours", TheirsLabel: "theirs"})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if diff := differsFromGit(t, dir, res, want, wantClean); diff != "" {
			t.Errorf("%s: %s", c.name, diff)
		}
	}
}
