package merge

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

var (
	ortN    = flag.Int("ort.n", 300, "number of random merge histories in TestMergeMatchesGit")
	ortSeed = flag.Uint64("ort.seed", 1, "seed of TestMergeMatchesGit")
	ortKeep = flag.Bool("ort.keep", false, "keep the generated repository and print its path")
)

// gitMergeTree is the oracle: git merge-tree --write-tree with git's
// default merge configuration pinned.
func ortGitMergeTree(t testing.TB, dir, ours, theirs string) (string, bool) {
	out, code := gitCmd(t, dir, nil, "-c", "merge.conflictStyle=merge", "-c", "merge.directoryRenames=conflict",
		"-c", "merge.renames=true", "merge-tree", "--write-tree", ours, theirs)
	return out, code == 0
}

// file is one entry of a generated snapshot.
type file struct {
	mode    filemode.FileMode
	content string
}

type snapshot map[string]file

func (s snapshot) clone() snapshot {
	c := make(snapshot, len(s))
	for k, v := range s {
		c[k] = v
	}
	return c
}

// writeSnapshot writes a snapshot as a tree.
func writeSnapshot(t testing.TB, st storer.EncodedObjectStorer, s snapshot) plumbing.Hash {
	t.Helper()
	type node struct {
		files map[string]object.TreeEntry
		dirs  map[string]*node
	}
	newNode := func() *node { return &node{files: map[string]object.TreeEntry{}, dirs: map[string]*node{}} }
	root := newNode()
	for p, f := range s {
		parts := strings.Split(p, "/")
		n := root
		for _, d := range parts[:len(parts)-1] {
			if n.dirs[d] == nil {
				n.dirs[d] = newNode()
			}
			n = n.dirs[d]
		}
		var h plumbing.Hash
		if f.mode == filemode.Submodule {
			h = plumbing.NewHash(f.content)
		} else {
			h = writeBlob(t, st, []byte(f.content))
		}
		n.files[parts[len(parts)-1]] = object.TreeEntry{Name: parts[len(parts)-1], Mode: f.mode, Hash: h}
	}
	var write func(n *node) plumbing.Hash
	write = func(n *node) plumbing.Hash {
		tr := &object.Tree{}
		for _, e := range n.files {
			tr.Entries = append(tr.Entries, e)
		}
		for name, d := range n.dirs {
			tr.Entries = append(tr.Entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: write(d)})
		}
		sort.Sort(object.TreeEntrySorter(tr.Entries))
		obj := st.NewEncodedObject()
		if err := tr.Encode(obj); err != nil {
			t.Fatal(err)
		}
		h, err := st.SetEncodedObject(obj)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	return write(root)
}

func writeBlob(t testing.TB, st storer.EncodedObjectStorer, b []byte) plumbing.Hash {
	obj := st.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, _ := obj.Writer()
	w.Write(b)
	w.Close()
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var commitClock int64 = 1_700_000_000

func writeCommit(t testing.TB, st storer.EncodedObjectStorer, tree plumbing.Hash, parents ...plumbing.Hash) plumbing.Hash {
	t.Helper()
	commitClock += 60
	sig := object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(commitClock, 0).UTC()}
	c := &object.Commit{Author: sig, Committer: sig, Message: "c\n", TreeHash: tree, ParentHashes: parents}
	obj := st.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// gen makes random but realistic histories.
type gen struct {
	r *rand.Rand
}

var vocab = []string{"a", "b", "c", "d", "e", "f", "}", "{", "", "  x = 1", "  y = 2", "return", "end", "foo()", "bar()", "# comment",
	"Resources:", "  Type: AWS::S3::Bucket", "  Properties:", "    Name: x", "- hosts: all", "  tasks:", "\t tab", "x ", " x"}

func (g *gen) line() string {
	if g.r.IntN(4) == 0 {
		return fmt.Sprintf("line %d", g.r.IntN(1000))
	}
	return vocab[g.r.IntN(len(vocab))]
}

func (g *gen) content() string {
	n := g.r.IntN(25)
	eol := "\n"
	if g.r.IntN(12) == 0 {
		eol = "\r\n"
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(g.line())
		b.WriteString(eol)
	}
	s := b.String()
	if g.r.IntN(10) == 0 && len(s) > 0 {
		s = strings.TrimSuffix(s, eol)
	}
	if g.r.IntN(25) == 0 {
		s += "\x00binary"
	}
	return s
}

// edit changes some lines of s.
func (g *gen) edit(s string) string {
	eol := "\n"
	if strings.Contains(s, "\r\n") {
		eol = "\r\n"
	}
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for k := g.r.IntN(3) + 1; k > 0; k-- {
		pos := 0
		switch g.r.IntN(4) {
		case 0:
			pos = 0
		case 1:
			pos = len(lines)
		default:
			if len(lines) > 0 {
				pos = g.r.IntN(len(lines) + 1)
			}
		}
		switch g.r.IntN(3) {
		case 0: // insert
			var ins []string
			for i := g.r.IntN(3) + 1; i > 0; i-- {
				ins = append(ins, g.line()+eol)
			}
			lines = append(lines[:pos], append(ins, lines[pos:]...)...)
		case 1: // delete
			n := g.r.IntN(3) + 1
			if pos+n > len(lines) {
				n = len(lines) - pos
			}
			lines = append(lines[:pos], lines[pos+n:]...)
		default: // replace
			if pos < len(lines) {
				lines[pos] = g.line() + eol
			}
		}
	}
	out := strings.Join(lines, "")
	if g.r.IntN(15) == 0 {
		out = strings.TrimSuffix(out, "\n")
	}
	return out
}

var dirs = []string{"", "", "a/", "b/", "a/c/", "stacks/", "playbooks/roles/"}

func (g *gen) path() string {
	return dirs[g.r.IntN(len(dirs))] + fmt.Sprintf("f%d%s", g.r.IntN(30), []string{".txt", ".yml", ""}[g.r.IntN(3)])
}

func (g *gen) base() snapshot {
	s := snapshot{}
	for n := g.r.IntN(12) + 1; n > 0; n-- {
		s[g.path()] = file{filemode.Regular, g.content()}
	}
	return s
}

func sortedPaths(s snapshot) []string {
	ps := make([]string, 0, len(s))
	for p := range s {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// mutate applies a few random operations.
func (g *gen) mutate(s snapshot) snapshot {
	s = s.clone()
	for k := g.r.IntN(4) + 1; k > 0; k-- {
		ps := sortedPaths(s)
		var p string
		if len(ps) > 0 {
			p = ps[g.r.IntN(len(ps))]
		}
		switch op := g.r.IntN(20); {
		case op < 7 && p != "": // modify
			f := s[p]
			if f.mode == filemode.Submodule {
				f.content = fmt.Sprintf("%040x", g.r.Uint64())
			} else {
				f.content = g.edit(f.content)
			}
			s[p] = f
		case op < 9: // add
			s[g.path()] = file{filemode.Regular, g.content()}
		case op < 11 && p != "": // delete
			delete(s, p)
		case op < 14 && p != "": // rename, maybe with an edit
			f := s[p]
			delete(s, p)
			if g.r.IntN(2) == 0 && f.mode != filemode.Submodule {
				f.content = g.edit(f.content)
			}
			s[g.path()] = f
		case op < 15 && p != "": // mode change
			f := s[p]
			switch f.mode {
			case filemode.Regular:
				f.mode = filemode.Executable
			case filemode.Executable:
				f.mode = filemode.Regular
			}
			s[p] = f
		case op < 16 && p != "": // file -> directory
			f := s[p]
			delete(s, p)
			s[p+"/inner.txt"] = f
		case op < 17 && p != "": // directory -> file
			if i := strings.LastIndexByte(p, '/'); i > 0 {
				dir := p[:i]
				for _, q := range sortedPaths(s) {
					if strings.HasPrefix(q, dir+"/") {
						delete(s, q)
					}
				}
				s[dir] = file{filemode.Regular, g.content()}
			}
		case op < 18: // symlink
			s[g.path()] = file{filemode.Symlink, "target/" + g.line()}
		case op < 19: // gitlink
			s[g.path()] = file{filemode.Submodule, fmt.Sprintf("%040x", g.r.Uint64())}
		default: // identical change on both sides is made by the caller
			if p != "" {
				f := s[p]
				f.content += "same\n"
				s[p] = f
			}
		}
	}
	return fixConflicts(s)
}

// fixConflicts removes paths that are both a file and a directory prefix.
func fixConflicts(s snapshot) snapshot {
	for _, p := range sortedPaths(s) {
		for i := 0; i < len(p); i++ {
			if p[i] == '/' {
				delete(s, p[:i])
			}
		}
	}
	return s
}

// TestMergeMatchesGit merges random histories with this engine and with
// `git merge-tree --write-tree` and requires the same tree and the same
// conflicted paths and stages.
func TestMergeMatchesGit(t *testing.T) {
	requireGit(t)
	dir := t.TempDir()
	if *ortKeep {
		var err error
		dir, err = os.MkdirTemp("", "ort-")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("repository kept at %s", dir)
	}
	st := oracleRepo(t, dir).Storer
	g := &gen{r: rand.New(rand.NewPCG(*ortSeed, 0x5eed))}
	m := New(st)
	ctx := context.Background()
	var clean, conflicted, failures int
	type mergeCase struct {
		ours, theirs plumbing.Hash
		crissCross   bool
	}
	var cases []mergeCase
	check := func(m *Merger, graph string, i int, ours, theirs plumbing.Hash) {
		want, wantClean := ortGitMergeTree(t, dir, ours.String(), theirs.String())
		res, err := m.MergeCommits(ctx, ours, theirs, Options{OursLabel: ours.String(), TheirsLabel: theirs.String()})
		if err != nil {
			t.Fatalf("case %d (%s): merge: %v", i, graph, err)
		}
		if diff := differsFromGit(t, dir, res, want, wantClean); diff != "" {
			failures++
			if failures <= 5 {
				t.Errorf("case %d (%s; ours %s theirs %s): %s", i, graph, ours, theirs, diff)
			}
			return
		}
		if wantClean {
			clean++
		} else {
			conflicted++
		}
	}
	for i := 0; i < *ortN; i++ {
		base := g.base()
		bc := writeCommit(t, st, writeSnapshot(t, st, base))
		var ours, theirs plumbing.Hash
		so, stt := g.mutate(base), g.mutate(base)
		criss := g.r.IntN(5) == 0
		if criss {
			// criss-cross: two merges of the first edits, then more edits
			o1 := writeCommit(t, st, writeSnapshot(t, st, so), bc)
			t1 := writeCommit(t, st, writeSnapshot(t, st, stt), bc)
			mo := g.mutate(so)
			mt := g.mutate(stt)
			ours = writeCommit(t, st, writeSnapshot(t, st, mo), o1, t1)
			theirs = writeCommit(t, st, writeSnapshot(t, st, mt), t1, o1)
		} else {
			ours = writeCommit(t, st, writeSnapshot(t, st, so), bc)
			theirs = writeCommit(t, st, writeSnapshot(t, st, stt), bc)
		}
		check(m, "no commit-graph", i, ours, theirs)
		cases = append(cases, mergeCase{ours, theirs, criss})
	}
	// The criss-cross merges and every other one again, with a commit-graph
	// of every commit (git's), read by git and by a new Merger: same trees
	// and conflicts ...
	var in strings.Builder
	for _, c := range cases {
		fmt.Fprintf(&in, "%s\n%s\n", c.ours, c.theirs)
	}
	gitCmd(t, dir, strings.NewReader(in.String()), "commit-graph", "write", "--no-progress", "--stdin-commits")
	// ... and packed, read by the pack reader of NewOnDisk.
	gitCmd(t, dir, strings.NewReader(in.String()), "pack-objects", "--revs", "-q", "objects/pack/pack")
	gitCmd(t, dir, nil, "prune-packed")
	mg, err := NewOnDisk(st, filepath.Join(dir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	defer mg.Close()
	if mg.graph.file == nil || len(mg.store.(*packedStore).packs) != 1 {
		t.Fatal("the commit-graph or the pack git wrote is not read")
	}
	again := 0
	for i, c := range cases {
		if c.crissCross || i%2 == 0 {
			check(mg, "commit-graph", i, c.ours, c.theirs)
			again++
		}
	}
	t.Logf("seed %d: %d histories merged without and %d again with a commit-graph, %d clean and %d conflicted merges identical to git, %d differ",
		*ortSeed, *ortN, again, clean, conflicted, failures)
	if failures > 0 {
		t.Errorf("%d of %d merges differ from git", failures, *ortN+again)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// conflictInfoOnly keeps git's tree line and conflicted file info.
func conflictInfoOnly(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if l == "" {
			break
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

func formatForTest(res *Result) string {
	var b strings.Builder
	fmt.Fprintln(&b, res.Tree)
	for _, c := range res.Conflicts {
		for i, s := range []Stage{c.Base, c.Ours, c.Theirs} {
			if s.Present() {
				fmt.Fprintf(&b, "%06o %s %d\t%s\n", uint32(s.Mode), s.Hash, i+1, c.Path)
			}
		}
	}
	return b.String()
}

// oracleRepo makes a bare repository in dir, where git merges as the
// oracle, and opens it for the engine.
func oracleRepo(t testing.TB, dir string) *git.Repository {
	t.Helper()
	gitCmd(t, dir, nil, "init", "-q", "--bare")
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// differsFromGit compares the engine's result with git merge-tree's output
// want (clean: wantClean) in dir: "" when they agree, else both, and the
// difference of their trees.
func differsFromGit(t testing.TB, dir string, res *Result, want string, wantClean bool) string {
	got := formatForTest(res)
	if res.Clean() == wantClean && got == conflictInfoOnly(want) {
		return ""
	}
	return fmt.Sprintf("engine differs from git\n--- git\n%s\n--- engine\n%s\n%s", want, got, treeDiff(t, dir, firstLine(want), res.Tree.String()))
}

// treeDiff shows how two trees differ, with the first differing blob.
func treeDiff(t testing.TB, dir, a, b string) string {
	out, _ := gitCmd(t, dir, nil, "diff-tree", "-r", "-p", "--no-renames", a, b)
	if len(out) > 4000 {
		out = out[:4000] + "\n..."
	}
	return "--- git diff-tree git-result engine-result\n" + out
}
