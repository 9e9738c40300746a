package merge

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// treeCounter is an object store that records the trees read from it.
type treeCounter struct {
	storer.EncodedObjectStorer
	mu    sync.Mutex
	reads map[plumbing.Hash]int
	total int
}

func newTreeCounter(s storer.EncodedObjectStorer) *treeCounter {
	return &treeCounter{EncodedObjectStorer: s, reads: map[plumbing.Hash]int{}}
}

func (c *treeCounter) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if t == plumbing.TreeObject {
		c.mu.Lock()
		c.reads[h]++
		c.total++
		c.mu.Unlock()
	}
	return c.EncodedObjectStorer.EncodedObject(t, h)
}

func (c *treeCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads = map[plumbing.Hash]int{}
	c.total = 0
}

// lines makes a file of n distinct lines, so that edits keep it similar
// enough for rename detection.
func lines(name string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%s line %d\n", name, i)
	}
	return b.String()
}

// TestTrivialDirectoryMerges checks the merges where git's merge-ort takes
// a directory that one side left unchanged (or that only one side added)
// whole from the other side without reading it, and where rename detection
// forbids that: a rename out of or into such a directory whose source the
// other side modified, a directory rename. Each merge must give git's tree
// and conflicts; where the shortcut is allowed, the unchanged directories'
// trees must not be read.
func TestTrivialDirectoryMerges(t *testing.T) {
	requireGit(t)
	dir := t.TempDir()
	counter := newTreeCounter(oracleRepo(t, dir).Storer)
	m := New(counter)
	ctx := context.Background()
	reg := func(c string) file { return file{filemode.Regular, c} }
	base := snapshot{
		"lib/x.txt":          reg(lines("x", 20)),
		"lib/y.txt":          reg(lines("y", 20)),
		"lib/deep/z.txt":     reg(lines("z", 20)),
		"docs/a.txt":         reg(lines("a", 20)),
		"docs/guide/b.txt":   reg(lines("b", 20)),
		"old/p.txt":          reg(lines("p", 20)),
		"old/q.txt":          reg(lines("q", 20)),
		"old/sub/r.txt":      reg(lines("r", 20)),
		"keep/k.txt":         reg(lines("k", 20)),
		"keep/deep/kk.txt":   reg(lines("kk", 20)),
		"gone/g.txt":         reg(lines("g", 20)),
		"todir":              reg(lines("todir", 20)),
		"tofile/f.txt":       reg(lines("f", 20)),
		"top.txt":            reg(lines("top", 20)),
		"untouched/u.txt":    reg(lines("u", 20)),
		"untouched/d/uu.txt": reg(lines("uu", 20)),
	}
	edit := func(s string) string { return strings.Replace(s, "line 10\n", "line 10 edited\n", 1) }
	type change func(s snapshot)
	mv := func(from, to string) change {
		return func(s snapshot) { s[to] = s[from]; delete(s, from) }
	}
	modify := func(p string) change {
		return func(s snapshot) { f := s[p]; f.content = edit(f.content); s[p] = f }
	}
	add := func(p string) change { return func(s snapshot) { s[p] = reg(lines(p, 12)) } }
	rmDir := func(d string) change {
		return func(s snapshot) {
			for p := range s {
				if strings.HasPrefix(p, d+"/") {
					delete(s, p)
				}
			}
		}
	}
	cases := []struct {
		name          string
		ours, theirs  []change
		unreadOurs    []string // directories of ours whose trees must not be read
		unreadTheirs  []string
		wantConflicts bool
	}{
		{
			name: "each side changes its own directories",
			ours: []change{modify("lib/deep/z.txt"), mv("lib/x.txt", "lib/x2.txt"), add("newdir/n.txt"),
				rmDir("gone"), rmDir("tofile"), func(s snapshot) { s["tofile"] = reg("now a file\n") }},
			theirs: []change{modify("docs/guide/b.txt"), mv("docs/a.txt", "docs/guide/a.txt"), add("theirsdir/t.txt"),
				func(s snapshot) { delete(s, "todir"); s["todir/in.txt"] = reg(lines("todir", 20)) }},
			unreadOurs:   []string{"lib", "lib/deep", "newdir", "untouched", "keep"},
			unreadTheirs: []string{"docs", "docs/guide", "theirsdir", "untouched", "todir"},
		},
		{
			name:   "rename out of a directory the other side left unchanged, source modified there",
			ours:   []change{mv("keep/k.txt", "docs/k.txt"), modify("docs/a.txt")},
			theirs: []change{modify("keep/k.txt"), add("lib/w.txt")},
		},
		{
			name:   "rename into a directory only one side has, source modified on the other",
			ours:   []change{modify("lib/x.txt")},
			theirs: []change{mv("lib/x.txt", "fresh/sub/x.txt"), add("docs/new.txt")},
		},
		{
			name:   "rename into a deep directory the other side left unchanged",
			ours:   []change{mv("lib/y.txt", "keep/deep/y.txt"), add("keep/deep/more.txt")},
			theirs: []change{modify("lib/y.txt")},
		},
		{
			name:          "rename out of a directory that side deleted, source modified on the other",
			ours:          []change{mv("gone/g.txt", "docs/guide/g.txt"), rmDir("gone")},
			theirs:        []change{modify("gone/g.txt"), modify("top.txt")},
			wantConflicts: false,
		},
		{
			name: "directory rename with a file added to the old directory",
			ours: []change{mv("old/p.txt", "new/p.txt"), mv("old/q.txt", "new/q.txt"), mv("old/sub/r.txt", "new/sub/r.txt"),
				modify("docs/a.txt")},
			theirs:        []change{add("old/added.txt"), add("old/sub/added2.txt"), modify("lib/x.txt")},
			wantConflicts: true,
		},
		{
			name:   "directory rename on one side, unrelated directories on both",
			ours:   []change{add("lib/deep/o.txt"), modify("keep/deep/kk.txt")},
			theirs: []change{mv("old/p.txt", "renamed/p.txt"), mv("old/q.txt", "renamed/q.txt"), mv("old/sub/r.txt", "renamed/sub/r.txt")},
		},
		{
			name:   "modify/delete of a whole directory",
			ours:   []change{rmDir("keep")},
			theirs: []change{modify("keep/deep/kk.txt")},
			// a modify/delete conflict
			wantConflicts: true,
		},
	}
	bc := writeCommit(t, counter, writeSnapshot(t, counter, base))
	treeAt := func(commitTree plumbing.Hash, path string) plumbing.Hash {
		out, _ := gitCmd(t, dir, nil, "rev-parse", commitTree.String()+":"+path)
		return plumbing.NewHash(strings.TrimSpace(out))
	}
	for _, c := range cases {
		so, stt := base.clone(), base.clone()
		for _, f := range c.ours {
			f(so)
		}
		for _, f := range c.theirs {
			f(stt)
		}
		ot, tt := writeSnapshot(t, counter, fixConflicts(so)), writeSnapshot(t, counter, fixConflicts(stt))
		ours, theirs := writeCommit(t, counter, ot, bc), writeCommit(t, counter, tt, bc)
		want, wantClean := ortGitMergeTree(t, dir, ours.String(), theirs.String())
		counter.reset()
		res, err := m.MergeCommits(ctx, ours, theirs, Options{OursLabel: "ours", TheirsLabel: "theirs"})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if diff := differsFromGit(t, dir, res, want, wantClean); diff != "" {
			t.Errorf("%s: %s", c.name, diff)
			continue
		}
		if wantClean == c.wantConflicts {
			t.Errorf("%s: git's merge is clean: %v, the case expects conflicts: %v (the case does not test what it says)", c.name, wantClean, c.wantConflicts)
		}
		for _, d := range c.unreadOurs {
			if h := treeAt(ot, d); counter.reads[h] > 0 {
				t.Errorf("%s: ours' %s/ (changed on ours only) was read %d times; git takes it whole", c.name, d, counter.reads[h])
			}
		}
		for _, d := range c.unreadTheirs {
			if h := treeAt(tt, d); counter.reads[h] > 0 {
				t.Errorf("%s: theirs' %s/ (changed on theirs only) was read %d times; git takes it whole", c.name, d, counter.reads[h])
			}
		}
		t.Logf("%s: %d trees read, clean %v, same as git", c.name, counter.total, wantClean)
	}
}

var trivN = flag.Int("trivial.n", 60, "number of random histories in TestTrivialDirectoryMergesRandom")

// TestTrivialDirectoryMergesRandom merges random histories of a deeper
// tree, where each side moves files between directories, renames whole
// directories, deletes directories and edits files, mostly in directories
// the other side leaves alone, and requires git's tree and conflicts.
// Some of them make git redo its walk after rename detection ("redo after
// renames", see TestRedoAfterRenames), as -ort.seed=5 does in case 2324.
//
//	go test ./integrations/gitrepo/merge -run TestTrivialDirectoryMergesRandom -trivial.n=3000 -ort.seed=5
func TestTrivialDirectoryMergesRandom(t *testing.T) {
	requireGit(t)
	dir := t.TempDir()
	if *ortKeep {
		var err error
		if dir, err = os.MkdirTemp("", "trivial-"); err != nil {
			t.Fatal(err)
		}
		t.Logf("repository kept at %s", dir)
	}
	st := oracleRepo(t, dir).Storer
	m := New(st)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(*ortSeed, 0x7d1))
	treeDirs := []string{"", "a/", "a/b/", "a/b/c/", "d/", "d/e/", "f/", "f/g/", "h/", "h/i/"}
	newDirs := []string{"n/", "a/n/", "d/e/n/", "m/o/"}
	content := func() string {
		return lines(fmt.Sprintf("c%d", r.IntN(1_000_000)), 6+r.IntN(10))
	}
	dirsOf := func(s snapshot) []string {
		set := map[string]bool{}
		for p := range s {
			for i := 0; i < len(p); i++ {
				if p[i] == '/' {
					set[p[:i+1]] = true
				}
			}
		}
		out := make([]string, 0, len(set))
		for d := range set {
			out = append(out, d)
		}
		sort.Strings(out)
		return out
	}
	mutate := func(s snapshot) snapshot {
		s = s.clone()
		// most edits of a side fall in two directories of its choosing
		own := []string{treeDirs[r.IntN(len(treeDirs))], treeDirs[r.IntN(len(treeDirs))]}
		inOwn := func(p string) bool {
			return strings.HasPrefix(p, own[0]) && !strings.Contains(p[len(own[0]):], "/") ||
				strings.HasPrefix(p, own[1]) && !strings.Contains(p[len(own[1]):], "/")
		}
		pick := func() string {
			ps := sortedPaths(s)
			var mine []string
			for _, p := range ps {
				if inOwn(p) {
					mine = append(mine, p)
				}
			}
			if len(mine) > 0 && r.IntN(4) != 0 {
				return mine[r.IntN(len(mine))]
			}
			if len(ps) == 0 {
				return ""
			}
			return ps[r.IntN(len(ps))]
		}
		for k := r.IntN(4) + 1; k > 0; k-- {
			p := pick()
			switch op := r.IntN(10); {
			case op < 3 && p != "": // edit
				f := s[p]
				f.content = strings.Replace(f.content, "line 2\n", fmt.Sprintf("line 2 %d\n", r.IntN(100)), 1)
				s[p] = f
			case op < 4: // add
				s[own[r.IntN(2)]+fmt.Sprintf("new%d.txt", r.IntN(20))] = file{filemode.Regular, content()}
			case op < 5 && p != "": // delete
				delete(s, p)
			case op < 7 && p != "": // move a file to another directory, maybe edited
				f := s[p]
				delete(s, p)
				if r.IntN(2) == 0 {
					f.content += "moved\n"
				}
				to := append(treeDirs, newDirs...)[r.IntN(len(treeDirs)+len(newDirs))]
				s[to+baseName(p)] = f
			case op < 9: // rename a whole directory
				ds := dirsOf(s)
				if len(ds) == 0 {
					continue
				}
				from := ds[r.IntN(len(ds))]
				to := newDirs[r.IntN(len(newDirs))]
				if r.IntN(2) == 0 {
					to = from[:len(from)-1] + "2/"
				}
				if strings.HasPrefix(to, from) {
					continue
				}
				for _, q := range sortedPaths(s) {
					if strings.HasPrefix(q, from) {
						s[to+q[len(from):]] = s[q]
						delete(s, q)
					}
				}
			default: // delete a directory
				ds := dirsOf(s)
				if len(ds) == 0 {
					continue
				}
				d := ds[r.IntN(len(ds))]
				for _, q := range sortedPaths(s) {
					if strings.HasPrefix(q, d) {
						delete(s, q)
					}
				}
			}
		}
		return fixConflicts(s)
	}
	var clean, conflicted, failures int
	for i := 0; i < *trivN; i++ {
		base := snapshot{}
		for n := 15 + r.IntN(25); n > 0; n-- {
			base[treeDirs[r.IntN(len(treeDirs))]+fmt.Sprintf("f%d.txt", r.IntN(12))] = file{filemode.Regular, content()}
		}
		base = fixConflicts(base)
		bc := writeCommit(t, st, writeSnapshot(t, st, base))
		ours := writeCommit(t, st, writeSnapshot(t, st, mutate(base)), bc)
		theirs := writeCommit(t, st, writeSnapshot(t, st, mutate(base)), bc)
		want, wantClean := ortGitMergeTree(t, dir, ours.String(), theirs.String())
		res, err := m.MergeCommits(ctx, ours, theirs, Options{OursLabel: ours.String(), TheirsLabel: theirs.String()})
		if err != nil {
			t.Fatalf("case %d: merge: %v", i, err)
		}
		if diff := differsFromGit(t, dir, res, want, wantClean); diff != "" {
			failures++
			if failures <= 5 {
				t.Errorf("case %d (ours %s theirs %s): %s", i, ours, theirs, diff)
			}
			continue
		}
		if wantClean {
			clean++
		} else {
			conflicted++
		}
	}
	t.Logf("seed %d: %d clean and %d conflicted merges identical to git, %d differ", *ortSeed, clean, conflicted, failures)
}
