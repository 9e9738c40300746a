package merge

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

var (
	renamesN    = flag.Int("renames.n", 150, "number of random cases in the differential rename test against git")
	renamesSeed = flag.Uint64("renames.seed", 1, "seed of the differential rename test")
)

// rnMemBlobs is an in-memory blobSource that counts reads.
type rnMemBlobs struct {
	mu    sync.Mutex
	data  map[plumbing.Hash][]byte
	reads map[plumbing.Hash]int
}

func rnNewMemBlobs() *rnMemBlobs {
	return &rnMemBlobs{data: map[plumbing.Hash][]byte{}, reads: map[plumbing.Hash]int{}}
}

func (m *rnMemBlobs) add(content string) plumbing.Hash {
	h := plumbing.ComputeHash(plumbing.BlobObject, []byte(content))
	m.data[h] = []byte(content)
	return h
}

func (m *rnMemBlobs) readBlob(_ context.Context, h plumbing.Hash) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.data[h]
	if !ok {
		return nil, fmt.Errorf("blob %s not found", h)
	}
	m.reads[h]++
	return d, nil
}

// rnSizedBlobs adds the optional blobSizer to rnMemBlobs.
type rnSizedBlobs struct{ *rnMemBlobs }

func (s rnSizedBlobs) blobSize(_ context.Context, h plumbing.Hash) (int64, error) {
	d, ok := s.data[h]
	if !ok {
		return 0, fmt.Errorf("blob %s not found", h)
	}
	return int64(len(d)), nil
}

func (m *rnMemBlobs) checkReadOnce(t *testing.T) {
	t.Helper()
	for h, n := range m.reads {
		if n > 1 {
			t.Errorf("blob %s read %d times", h, n)
		}
	}
}

// rnTfile describes a file of a table test: path, content, optional mode.
type rnTfile struct {
	path, content string
	mode          filemode.FileMode
}

func rnEntries(m *rnMemBlobs, files []rnTfile) []fileEntry {
	var out []fileEntry
	for _, f := range files {
		mode := f.mode
		if mode == 0 {
			mode = filemode.Regular
		}
		out = append(out, fileEntry{path: f.path, mode: mode, hash: m.add(f.content)})
	}
	return out
}

func rnPairStrings(ps []renamePair) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s->%s %d", p.From.path, p.To.path, p.Score))
	}
	return out
}

// rnLines makes n distinct lines of about 20 bytes, with a prefix.
func rnLines(prefix string, from, n int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "%s line number %04d\n", prefix, i)
	}
	return b.String()
}

func TestDetectRenamesTable(t *testing.T) {
	base := rnLines("common", 0, 100)
	// mix(k) shares exactly k of its 100 lines with base.
	mix := func(k int) string { return rnLines("common", 0, k) + rnLines("other!", k, 100-k) }
	tests := []struct {
		name           string
		deleted, added []rnTfile
		opt            renameOptions
		want           []string
	}{
		{
			name:    "exact rename",
			deleted: []rnTfile{{"a/x.txt", base, 0}},
			added:   []rnTfile{{"b/y.txt", base, 0}},
			want:    []string{"a/x.txt->b/y.txt 100"},
		},
		{
			name:    "two identical sources: first in path order",
			deleted: []rnTfile{{"b/one.txt", base, 0}, {"a/two.txt", base, 0}},
			added:   []rnTfile{{"c/three.txt", base, 0}},
			want:    []string{"a/two.txt->c/three.txt 100"},
		},
		{
			name:    "two identical sources: same basename preferred",
			deleted: []rnTfile{{"a/one.txt", base, 0}, {"b/three.txt", base, 0}},
			added:   []rnTfile{{"c/three.txt", base, 0}},
			want:    []string{"b/three.txt->c/three.txt 100"},
		},
		{
			name:    "identical sources used once each",
			deleted: []rnTfile{{"a/one.txt", base, 0}, {"b/two.txt", base, 0}},
			added:   []rnTfile{{"c/1.txt", base, 0}, {"c/2.txt", base, 0}, {"c/3.txt", base, 0}},
			want:    []string{"a/one.txt->c/1.txt 100", "b/two.txt->c/2.txt 100"},
		},
		{
			name:    "51% similar is a rename",
			deleted: []rnTfile{{"a/x.txt", base, 0}},
			added:   []rnTfile{{"b/y.txt", mix(51), 0}},
			want:    []string{"a/x.txt->b/y.txt 51"},
		},
		{
			name:    "49% similar is not",
			deleted: []rnTfile{{"a/x.txt", base, 0}},
			added:   []rnTfile{{"b/y.txt", mix(49), 0}},
		},
		{
			name:    "threshold option",
			deleted: []rnTfile{{"a/x.txt", base, 0}},
			added:   []rnTfile{{"b/y.txt", mix(49), 0}},
			opt:     renameOptions{MinScore: 40},
			want:    []string{"a/x.txt->b/y.txt 49"},
		},
		{
			name:    "exact only at 100",
			deleted: []rnTfile{{"a/x.txt", base, 0}, {"a/z.txt", rnLines("z", 0, 10), 0}},
			added:   []rnTfile{{"b/x.txt", mix(99), 0}, {"b/z.txt", rnLines("z", 0, 10), 0}},
			opt:     renameOptions{MinScore: 100},
			want:    []string{"a/z.txt->b/z.txt 100"},
		},
		{
			name: "basename step takes a unique basename at 75% or more",
			deleted: []rnTfile{
				{"a/first.txt", base, 0}, {"a/same.txt", base + "tail\n", 0},
			},
			added: []rnTfile{{"b/same.txt", mix(80), 0}},
			want:  []string{"a/same.txt->b/same.txt 79"},
		},
		{
			name: "same basename wins a tie in the inexact step",
			deleted: []rnTfile{
				{"a/first.txt", base, 0}, {"a/same.txt", base, 0},
			},
			added: []rnTfile{{"b/same.txt", mix(60), 0}},
			want:  []string{"a/same.txt->b/same.txt 60"},
		},
		{
			name: "without the basename, the first source wins a tie",
			deleted: []rnTfile{
				{"a/second.txt", base, 0}, {"a/first.txt", base, 0},
			},
			added: []rnTfile{{"b/same.txt", mix(60), 0}},
			want:  []string{"a/first.txt->b/same.txt 60"},
		},
		{
			name: "basename step needs 75%",
			deleted: []rnTfile{
				{"a/other.txt", mix(74), 0}, {"a/same.txt", mix(70), 0},
			},
			added: []rnTfile{{"b/same.txt", base, 0}},
			want:  []string{"a/other.txt->b/same.txt 74"},
		},
		{
			name: "CRLF conversion of text is mostly similar",
			deleted: []rnTfile{
				{"a/x.txt", base, 0},
			},
			added: []rnTfile{{"b/x.txt", strings.ReplaceAll(base, "\n", "\r\n"), 0}},
			want:  []string{"a/x.txt->b/x.txt 96"},
		},
		{
			name:    "empty files are never renamed",
			deleted: []rnTfile{{"a/e", "", 0}},
			added:   []rnTfile{{"b/e", "", 0}},
		},
		{
			name:    "mode change between regular files still exact",
			deleted: []rnTfile{{"a/run.sh", base, 0}},
			added:   []rnTfile{{"b/run.sh", base, filemode.Executable}},
			want:    []string{"a/run.sh->b/run.sh 100"},
		},
		{
			name:    "file to symlink with same blob is not a rename",
			deleted: []rnTfile{{"a/l", "target", 0}},
			added:   []rnTfile{{"b/l", "target", filemode.Symlink}},
		},
		{
			name:    "symlinks rename only exactly",
			deleted: []rnTfile{{"a/l", "some/target/path/one", filemode.Symlink}, {"a/m", "elsewhere", filemode.Symlink}},
			added:   []rnTfile{{"b/l", "some/target/path/one!", filemode.Symlink}, {"b/m", "elsewhere", filemode.Symlink}},
			want:    []string{"a/m->b/m 100"},
		},
		{
			name:    "size difference rules a pair out",
			deleted: []rnTfile{{"a/x.txt", rnLines("common", 0, 30), 0}},
			added:   []rnTfile{{"b/x.txt", rnLines("common", 0, 61), 0}},
		},
		{
			name:    "irrelevant sources only rename exactly",
			deleted: []rnTfile{{"a/x.txt", base, 0}, {"a/y.txt", rnLines("y", 0, 10), 0}},
			added:   []rnTfile{{"b/x.txt", mix(90), 0}, {"b/y.txt", rnLines("y", 0, 10), 0}},
			opt:     renameOptions{Relevant: func(string) bool { return false }},
			want:    []string{"a/y.txt->b/y.txt 100"},
		},
		{
			name:    "limit skips inexact detection",
			deleted: []rnTfile{{"a/x.txt", base, 0}, {"a/z.txt", rnLines("z", 0, 100), 0}},
			added:   []rnTfile{{"b/y.txt", mix(90), 0}, {"b/w.txt", rnLines("z", 0, 90), 0}},
			opt:     renameOptions{Limit: 1},
		},
		{
			name:    "limit counts what is left after exact renames",
			deleted: []rnTfile{{"a/x.txt", base, 0}, {"a/z.txt", rnLines("z", 0, 100), 0}},
			added:   []rnTfile{{"b/y.txt", mix(90), 0}, {"b/w.txt", rnLines("z", 0, 100), 0}},
			opt:     renameOptions{Limit: 1},
			want:    []string{"a/z.txt->b/w.txt 100", "a/x.txt->b/y.txt 90"},
		},
		{
			name: "a source is used once: second destination gets next best",
			deleted: []rnTfile{
				{"a/p.txt", base, 0}, {"a/q.txt", mix(60), 0},
			},
			added: []rnTfile{{"b/r.txt", mix(95), 0}, {"b/s.txt", mix(90), 0}},
			want:  []string{"a/p.txt->b/r.txt 95", "a/q.txt->b/s.txt 70"},
		},
		{
			name: "directory guess for a non-unique basename (merge)",
			deleted: []rnTfile{
				{"old/a.txt", rnLines("a", 0, 20), 0}, {"old/Makefile", base, 0}, {"x/Makefile", rnLines("x", 0, 50), 0},
			},
			added: []rnTfile{
				{"new/a.txt", rnLines("a", 0, 20), 0}, {"new/Makefile", mix(80), 0}, {"y/Makefile", mix(85), 0},
			},
			opt:  renameOptions{DirsRemoved: map[string]int{"old": renameDirForItself}},
			want: []string{"old/a.txt->new/a.txt 100", "old/Makefile->new/Makefile 80"},
		},
		{
			name: "same without directory hints (diff)",
			deleted: []rnTfile{
				{"old/a.txt", rnLines("a", 0, 20), 0}, {"old/Makefile", base, 0}, {"x/Makefile", rnLines("x", 0, 50), 0},
			},
			added: []rnTfile{
				{"new/a.txt", rnLines("a", 0, 20), 0}, {"new/Makefile", mix(80), 0}, {"y/Makefile", mix(85), 0},
			},
			want: []string{"old/a.txt->new/a.txt 100", "old/Makefile->y/Makefile 85"},
		},
	}
	// Cases without merge-only options are also checked against git diff.
	var gitOut []string
	if _, err := exec.LookPath("git"); err == nil {
		var cases []rnGenCase
		for _, tc := range tests {
			c := rnGenCase{a: map[string]rnGenFile{}, b: map[string]rnGenFile{}}
			for _, f := range tc.deleted {
				c.a[f.path] = rnGenFile{f.content, cmp.Or(f.mode, filemode.Regular)}
			}
			for _, f := range tc.added {
				c.b[f.path] = rnGenFile{f.content, cmp.Or(f.mode, filemode.Regular)}
			}
			cases = append(cases, c)
		}
		dir := t.TempDir()
		rnRunGit(t, dir, nil, "init", "-q", "--bare", ".")
		commits := rnFastImport(t, dir, cases)
		for i, tc := range tests {
			o := tc.opt
			if o.Relevant != nil || o.DirsRemoved != nil {
				gitOut = append(gitOut, "")
				continue
			}
			limit := cmp.Or(o.Limit, defaultMergeRenameLimit)
			out := rnRunGit(t, dir, nil, "diff-tree", "-r", "--name-status", "--no-rename-empty",
				fmt.Sprintf("-M%d%%", cmp.Or(o.MinScore, 50)), fmt.Sprintf("-l%d", limit), commits[i][0], commits[i][1])
			gitOut = append(gitOut, out)
		}
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if i < len(gitOut) && gitOut[i] != "" {
				var fromGit []string
				for _, l := range strings.Split(gitOut[i], "\n") {
					if f := strings.Split(l, "\t"); len(f) == 3 && f[0][0] == 'R' {
						score, _ := strconv.Atoi(f[0][1:])
						fromGit = append(fromGit, fmt.Sprintf("%s->%s %d", f[1], f[2], score))
					}
				}
				slices.Sort(fromGit)
				want := slices.Clone(tc.want)
				slices.Sort(want)
				if !slices.Equal(fromGit, want) {
					t.Errorf("git diff-tree says %q, the test wants %q", fromGit, want)
				}
			}
			m := rnNewMemBlobs()
			del, add := rnEntries(m, tc.deleted), rnEntries(m, tc.added)
			got, err := detectRenames(context.Background(), m, del, add, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			gotS := rnPairStrings(got)
			slices.Sort(gotS)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(gotS, want) {
				t.Errorf("got %q, want %q", gotS, want)
			}
			m.checkReadOnce(t)
		})
	}
}

func TestSimilarityTailChunk(t *testing.T) {
	// A file whose last line has no newline: git 2.39 ignores that line.
	a := computeSignature([]byte("abc\ndef"), false)
	b := computeSignature([]byte("abc\ndef"), true)
	if len(a.chunks) != 1 || len(b.chunks) != 2 {
		t.Fatalf("chunks: %v %v", a.chunks, b.chunks)
	}
	// 64-byte chunks without newlines, and CR handling only for text.
	long := bytes.Repeat([]byte("x"), 130)
	if s := computeSignature(long, false); len(s.chunks) != 1 || s.chunks[0].bytes != 128 {
		t.Fatalf("long: %v", s.chunks)
	}
	text := computeSignature([]byte("a\r\nb\r\n"), false)
	bin := computeSignature([]byte("a\r\nb\r\n\x00\n"), false)
	if text.chunks[0].bytes+text.chunks[1].bytes != 4 {
		t.Errorf("text CRs counted: %v", text.chunks)
	}
	var total uint32
	for _, c := range bin.chunks {
		total += c.bytes
	}
	if total != 8 {
		t.Errorf("binary CRs skipped: %v", bin.chunks)
	}
}

func TestDetectRenamesCancel(t *testing.T) {
	m := rnNewMemBlobs()
	var del, add []fileEntry
	for i := range 50 {
		del = append(del, fileEntry{path: fmt.Sprintf("a/%d", i), mode: filemode.Regular, hash: m.add(rnLines(fmt.Sprint(i), 0, 20))})
		add = append(add, fileEntry{path: fmt.Sprintf("b/x%d", i), mode: filemode.Regular, hash: m.add(rnLines(fmt.Sprint(i), 5, 20))})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := detectRenames(ctx, m, del, add, renameOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestDetectRenamesSizerReadsLess(t *testing.T) {
	m := rnNewMemBlobs()
	var del, add []fileEntry
	for i := range 20 {
		del = append(del, fileEntry{path: fmt.Sprintf("a/%d", i), mode: filemode.Regular, hash: m.add(rnLines(fmt.Sprint(i), 0, 10))})
		add = append(add, fileEntry{path: fmt.Sprintf("b/x%d", i), mode: filemode.Regular, hash: m.add(rnLines(fmt.Sprint(i), 0, 100))})
	}
	got, err := detectRenames(context.Background(), rnSizedBlobs{m}, del, add, renameOptions{})
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v", got, err)
	}
	if len(m.reads) != 0 {
		t.Errorf("read %d blobs although sizes rule every pair out", len(m.reads))
	}
}

// ---- Differential test against git diff-tree ----

var rnWords = strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega { } return if else for := ( ) ;")

type rnGenFile struct {
	content string
	mode    filemode.FileMode
}

type rnGenCase struct {
	a, b map[string]rnGenFile
	// options of the run: threshold in percent and rename limit (-1: none)
	minScore, limit int
}

type rnGen struct{ r *rand.Rand }

func (g rnGen) line() string {
	if g.r.IntN(12) == 0 { // a long line, cut into 64-byte chunks by git
		n := 12 + g.r.IntN(20)
		var ws []string
		for range n {
			ws = append(ws, rnWords[g.r.IntN(len(rnWords))])
		}
		return strings.Join(ws, " ")
	}
	n := 1 + g.r.IntN(6)
	var ws []string
	for range n {
		ws = append(ws, rnWords[g.r.IntN(len(rnWords))])
	}
	return strings.Join(ws, " ")
}

func (g rnGen) textLines() []string {
	var n int
	switch g.r.IntN(4) {
	case 0:
		n = 1 + g.r.IntN(3)
	case 1:
		n = 4 + g.r.IntN(16)
	case 2:
		n = 20 + g.r.IntN(60)
	default:
		n = 80 + g.r.IntN(200)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = g.line()
	}
	return out
}

func (g rnGen) join(ls []string, crlf, noFinalNL bool) string {
	nl := "\n"
	if crlf {
		nl = "\r\n"
	}
	s := strings.Join(ls, nl)
	if !noFinalNL {
		s += nl
	}
	return s
}

func (g rnGen) newContent() rnGenFile {
	switch k := g.r.IntN(100); {
	case k < 6:
		return rnGenFile{"", filemode.Regular}
	case k < 12:
		// binary: text with NULs and random bytes
		b := []byte(g.join(g.textLines(), false, false))
		for i := 0; i < len(b); i += 1 + g.r.IntN(40) {
			b[i] = byte(g.r.IntN(256))
		}
		b = append([]byte{0}, b...)
		return rnGenFile{string(b), filemode.Regular}
	case k < 17:
		return rnGenFile{"target/" + g.line(), filemode.Symlink}
	case k < 19:
		return rnGenFile{fmt.Sprintf("%040x", g.r.Uint64()%4), filemode.Submodule}
	case k < 27:
		return rnGenFile{g.join(g.textLines(), true, false), filemode.Regular}
	case k < 35:
		return rnGenFile{g.join(g.textLines(), false, true), filemode.Regular}
	case k < 40:
		return rnGenFile{g.join(g.textLines(), false, false), filemode.Executable}
	}
	return rnGenFile{g.join(g.textLines(), false, false), filemode.Regular}
}

// edit changes about frac of the content's lines (replacing, deleting or
// inserting lines) and keeps the line ending style.
func (g rnGen) edit(f rnGenFile, frac float64) rnGenFile {
	if f.mode == filemode.Submodule {
		return rnGenFile{fmt.Sprintf("%040x", g.r.Uint64()), f.mode}
	}
	if f.mode == filemode.Symlink {
		return rnGenFile{f.content + "x", f.mode}
	}
	crlf := strings.Contains(f.content, "\r\n")
	nl := "\n"
	if crlf {
		nl = "\r\n"
	}
	noFinal := f.content != "" && !strings.HasSuffix(f.content, "\n")
	ls := strings.Split(strings.TrimSuffix(f.content, nl), nl)
	var out []string
	for _, l := range ls {
		if g.r.Float64() >= frac {
			out = append(out, l)
			continue
		}
		switch g.r.IntN(4) {
		case 0: // delete
		case 1:
			out = append(out, l, g.line())
		default:
			out = append(out, g.line())
		}
	}
	return rnGenFile{g.join(out, crlf, noFinal), f.mode}
}

var (
	rnGenDirs  = []string{"", "src", "src/util", "lib", "docs", "pkg/a", "pkg/b", "x/y/z"}
	rnGenBases = []string{"main.go", "util.go", "README", "Makefile", "a.txt", "b.txt", "c.dat", "notes.md", "x.c", "y.h"}
)

func (g rnGen) path(taken map[string]rnGenFile, keepBase string) string {
	for {
		base := keepBase
		if base == "" {
			if g.r.IntN(3) == 0 {
				base = fmt.Sprintf("f%03d.txt", g.r.IntN(1000))
			} else {
				base = rnGenBases[g.r.IntN(len(rnGenBases))]
			}
		}
		d := rnGenDirs[g.r.IntN(len(rnGenDirs))]
		p := base
		if d != "" {
			p = d + "/" + base
		}
		if _, ok := taken[p]; !ok {
			return p
		}
		keepBase = "" // the basename is taken everywhere: pick another
	}
}

func (g rnGen) fraction() float64 {
	fr := []float64{0, 0.05, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.8}
	return fr[g.r.IntN(len(fr))]
}

func (g rnGen) makeCase() rnGenCase {
	c := rnGenCase{a: map[string]rnGenFile{}, b: map[string]rnGenFile{}, minScore: 50, limit: -1}
	n := 3 + g.r.IntN(28)
	if g.r.IntN(40) == 0 { // now and then a big one (scored on several goroutines)
		n = 150 + g.r.IntN(250)
	}
	var prev []rnGenFile
	for range n {
		f := g.newContent()
		if len(prev) > 0 && g.r.IntN(8) == 0 {
			f = prev[g.r.IntN(len(prev))] // an exact duplicate
		}
		prev = append(prev, f)
		c.a[g.path(c.a, "")] = f
	}
	// paths in A in a fixed order
	var aPaths []string
	for p := range c.a {
		aPaths = append(aPaths, p)
	}
	slices.Sort(aPaths)
	for _, p := range aPaths {
		c.b[p] = c.a[p]
	}
	var deletedContent []rnGenFile
	for _, p := range aPaths {
		f := c.a[p]
		keepBase := ""
		if g.r.IntN(2) == 0 {
			keepBase = baseName(p)
		}
		switch k := g.r.IntN(100); {
		case k < 25: // unchanged
		case k < 33:
			c.b[p] = g.edit(f, 0.3)
		case k < 48:
			delete(c.b, p)
			deletedContent = append(deletedContent, f)
		case k < 63:
			delete(c.b, p)
			c.b[g.path(c.b, keepBase)] = f
		case k < 93:
			delete(c.b, p)
			c.b[g.path(c.b, keepBase)] = g.edit(f, g.fraction())
		case k < 96:
			delete(c.b, p)
			nf := f
			if !strings.Contains(f.content, "\r\n") && f.mode != filemode.Symlink {
				nf.content = strings.ReplaceAll(f.content, "\n", "\r\n")
			}
			c.b[g.path(c.b, keepBase)] = nf
		default:
			delete(c.b, p)
			nf := f
			if nf.mode == filemode.Regular {
				nf.mode = filemode.Executable
			}
			c.b[g.path(c.b, keepBase)] = g.edit(nf, 0.1)
		}
	}
	for range g.r.IntN(7) {
		c.b[g.path(c.b, "")] = g.newContent()
	}
	for _, f := range deletedContent {
		if g.r.IntN(4) == 0 { // deleted content re-added elsewhere, maybe twice
			c.b[g.path(c.b, "")] = f
		}
	}
	switch g.r.IntN(8) {
	case 0:
		c.minScore = 30
	case 1:
		c.minScore = 70
	case 2:
		c.limit = 1 + g.r.IntN(5)
	}
	return c
}

func rnGitVersionAtLeast(t *testing.T, want ...int) bool {
	out, err := exec.Command("git", "version").Output()
	if err != nil {
		t.Skipf("git not available: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) < 3 {
		t.Fatalf("git version: %q", out)
	}
	parts := strings.Split(f[2], ".")
	for i, w := range want {
		if i >= len(parts) {
			return false
		}
		n, _ := strconv.Atoi(parts[i])
		if n != w {
			return n > w
		}
	}
	return true
}

func rnRunGit(t testing.TB, dir string, stdin io.Reader, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
	cmd.Dir = dir
	cmd.Env = gitEnv(dir)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// rnFastImport writes every case as two commits (refs/heads/cN-a, cN-b) with
// one git fast-import run, and returns the commit ids.
func rnFastImport(t *testing.T, dir string, cases []rnGenCase) [][2]string {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	mark := 0
	blobMarks := map[string]int{}
	blob := func(content string) int {
		if m, ok := blobMarks[content]; ok {
			return m
		}
		mark++
		fmt.Fprintf(w, "blob\nmark :%d\ndata %d\n%s\n", mark, len(content), content)
		blobMarks[content] = mark
		return mark
	}
	commitMarks := make([][2]int, len(cases))
	for i, c := range cases {
		for side, files := range []map[string]rnGenFile{c.a, c.b} {
			var paths []string
			for p, f := range files {
				if f.mode != filemode.Submodule {
					blob(f.content)
				}
				paths = append(paths, p)
			}
			slices.Sort(paths)
			mark++
			commitMarks[i][side] = mark
			fmt.Fprintf(w, "commit refs/heads/c%d-%d\nmark :%d\ncommitter t <t@t> 0 +0000\ndata 0\ndeleteall\n", i, side, mark)
			for _, p := range paths {
				f := files[p]
				if f.mode == filemode.Submodule {
					fmt.Fprintf(w, "M 160000 %s %s\n", f.content, p)
				} else {
					fmt.Fprintf(w, "M %o :%d %s\n", uint32(f.mode), blobMarks[f.content], p)
				}
			}
			fmt.Fprintln(w)
		}
	}
	w.Flush()
	marksFile := filepath.Join(t.TempDir(), "marks")
	rnRunGit(t, dir, &buf, "fast-import", "--quiet", "--export-marks="+marksFile)
	marks := map[int]string{}
	data, err := os.ReadFile(marksFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m int
		var h string
		if _, err := fmt.Sscanf(l, ":%d %s", &m, &h); err != nil {
			t.Fatalf("marks line %q: %v", l, err)
		}
		marks[m] = h
	}
	out := make([][2]string, len(cases))
	for i, cm := range commitMarks {
		out[i] = [2]string{marks[cm[0]], marks[cm[1]]}
	}
	return out
}

// rnRepoBlobs reads blobs through go-git.
type rnRepoBlobs struct {
	repo  *git.Repository
	reads map[plumbing.Hash]int
}

func (r *rnRepoBlobs) readBlob(_ context.Context, h plumbing.Hash) ([]byte, error) {
	r.reads[h]++
	b, err := r.repo.BlobObject(h)
	if err != nil {
		return nil, err
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

func TestDetectRenamesAgainstGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	countTail := rnGitVersionAtLeast(t, 2, 43, 2)
	dir := t.TempDir()
	rnRunGit(t, dir, nil, "init", "-q", "--bare", ".")
	g := rnGen{rand.New(rand.NewPCG(*renamesSeed, 0x5eed))}
	cases := make([]rnGenCase, *renamesN)
	for i := range cases {
		cases[i] = g.makeCase()
	}
	commits := rnFastImport(t, dir, cases)
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	total, failed := 0, 0
	for i, c := range cases {
		args := []string{"diff-tree", "-r", "--raw", "--no-abbrev", "--no-rename-empty", fmt.Sprintf("-M%d%%", c.minScore)}
		if c.limit < 0 {
			args = append(args, "-l0")
		} else {
			args = append(args, fmt.Sprintf("-l%d", c.limit))
		}
		args = append(args, commits[i][0], commits[i][1])
		out := rnRunGit(t, dir, nil, args...)
		var deleted, added []fileEntry
		var want []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l == "" {
				continue
			}
			meta, paths, _ := strings.Cut(l, "\t")
			f := strings.Fields(strings.TrimPrefix(meta, ":"))
			ps := strings.Split(paths, "\t")
			srcMode, _ := strconv.ParseUint(f[0], 8, 32)
			dstMode, _ := strconv.ParseUint(f[1], 8, 32)
			src := fileEntry{path: ps[0], mode: filemode.FileMode(srcMode), hash: plumbing.NewHash(f[2])}
			dst := fileEntry{path: ps[len(ps)-1], mode: filemode.FileMode(dstMode), hash: plumbing.NewHash(f[3])}
			switch st := f[4]; st[0] {
			case 'D':
				deleted = append(deleted, src)
			case 'A':
				added = append(added, dst)
			case 'R':
				deleted = append(deleted, src)
				added = append(added, dst)
				score, _ := strconv.Atoi(st[1:])
				want = append(want, fmt.Sprintf("%s->%s %d", src.path, dst.path, score))
			}
		}
		blobs := &rnRepoBlobs{repo: repo, reads: map[plumbing.Hash]int{}}
		got, err := detectRenames(context.Background(), blobs, deleted, added, renameOptions{
			MinScore: c.minScore, Limit: c.limit, CountTailChunk: countTail,
		})
		if err != nil {
			t.Fatal(err)
		}
		for h, n := range blobs.reads {
			if n > 1 {
				t.Errorf("case %d: blob %s read %d times", i, h, n)
			}
		}
		gotS := rnPairStrings(got)
		slices.Sort(gotS)
		slices.Sort(want)
		total += len(want)
		if !slices.Equal(gotS, want) {
			failed++
			t.Errorf("case %d (seed %d, -M%d%% limit %d): got %q\nwant %q\ndeleted %v\nadded %v",
				i, *renamesSeed, c.minScore, c.limit, gotS, want, deleted, added)
			if failed > 5 {
				t.FailNow()
			}
		}
	}
	t.Logf("%d cases, %d renames by git, seed %d, tail chunk %v", len(cases), total, *renamesSeed, countTail)
}

// BenchmarkDetectRenames: 2,000 deleted and 2,000 added files, most of them
// edited moves, plus unrelated adds and deletes.
func BenchmarkDetectRenames(b *testing.B) {
	g := rnGen{rand.New(rand.NewPCG(7, 7))}
	m := rnNewMemBlobs()
	var del, add []fileEntry
	for i := range 2000 {
		f := rnGenFile{g.join(g.textLines(), false, false), filemode.Regular}
		del = append(del, fileEntry{path: fmt.Sprintf("old/d%d/f%d.txt", i%50, i), mode: f.mode, hash: m.add(f.content)})
		var nf rnGenFile
		switch i % 4 {
		case 0:
			nf = f
		case 1, 2:
			nf = g.edit(f, g.fraction())
		default:
			nf = rnGenFile{g.join(g.textLines(), false, false), filemode.Regular}
		}
		add = append(add, fileEntry{path: fmt.Sprintf("new/d%d/g%d.txt", i%37, i), mode: nf.mode, hash: m.add(nf.content)})
	}
	b.ResetTimer()
	for range b.N {
		if _, err := detectRenames(context.Background(), m, del, add, renameOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDetectRenamesMergeDirectoryInfo(t *testing.T) {
	base := rnLines("common", 0, 100)
	mix := rnLines("common", 0, 80) + rnLines("other!", 80, 20)
	m := rnNewMemBlobs()
	del := rnEntries(m, []rnTfile{
		{"old/a1", rnLines("a1", 0, 10), 0}, {"old/a2", rnLines("a2", 0, 10), 0}, {"old/a3", rnLines("a3", 0, 10), 0},
		{"old/b.txt", base, 0},
	})
	add := rnEntries(m, []rnTfile{
		{"new/a1", rnLines("a1", 0, 10), 0}, {"new/a2", rnLines("a2", 0, 10), 0}, {"new/a3", rnLines("a3", 0, 10), 0},
		{"new/c.txt", mix, 0},
	})
	opt := renameOptions{
		Relevant:    func(string) bool { return true },
		DirsRemoved: map[string]int{"old": renameDirForItself},
	}
	res, err := detectRenamesDetailed(context.Background(), m, del, add, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := rnPairStrings(res.Pairs); len(got) != 4 || got[3] != "old/b.txt->new/c.txt 80" {
		t.Errorf("content-relevant source: %q", got)
	}
	if c := res.DirRenameCount; len(c) != 1 || len(c["old"]) != 1 || c["old"]["new"] != 4 {
		t.Errorf("DirRenameCount = %v", c)
	}
	// Relevant only for its location, and the directory's rename is already
	// decided by the three exact renames: the source is dropped.
	opt.LocationOnly = func(p string) bool { return p == "old/b.txt" }
	res, err = detectRenamesDetailed(context.Background(), m, del, add, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := rnPairStrings(res.Pairs); len(got) != 3 {
		t.Errorf("location-only source: %q", got)
	}
	if c := res.DirRenameCount; c["old"]["new"] != 3 || len(c["old"]) != 1 {
		t.Errorf("DirRenameCount = %v", c)
	}
	if opt.DirsRemoved["old"] != renameDirForItself {
		t.Errorf("DirsRemoved was modified")
	}
}
