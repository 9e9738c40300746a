package merge

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	fileMergeN    = flag.Int("filemerge.n", 1200, "number of random cases for the differential file-merge and line-diff tests against git")
	fileMergeSeed = flag.Uint64("filemerge.seed", 1, "seed of the random cases for the differential tests against git")
)

// ---------------------------------------------------------------------------
// Named scenarios with exact expected results.

func TestMergeFileScenarios(t *testing.T) {
	opt := fileMergeOptions{OursLabel: "ours", TheirsLabel: "theirs"}
	for _, tc := range namedMergeCases {
		t.Run(tc.name, func(t *testing.T) {
			got := mergeFile([]byte(tc.base), []byte(tc.ours), []byte(tc.theirs), opt)
			if diff := cmp.Diff(tc.want, string(got.Content)); diff != "" {
				t.Errorf("content (-want +got):\n%s", diff)
			}
			if len(got.Conflicts) != tc.conflicts {
				t.Errorf("got %d conflicts %+v, want %d", len(got.Conflicts), got.Conflicts, tc.conflicts)
			}
			checkHunks(t, []byte(tc.ours), []byte(tc.theirs), got, opt)
		})
	}
}

type namedMergeCase struct {
	name               string
	base, ours, theirs string
	want               string
	conflicts          int
}

var namedMergeCases = []namedMergeCase{
	{
		name: "clean disjoint edits",
		base: "a\nb\nc\nd\ne\nf\n", ours: "A\nb\nc\nd\ne\nf\n", theirs: "a\nb\nc\nd\ne\nF\n",
		want: "A\nb\nc\nd\ne\nF\n",
	},
	{
		name: "adjacent edits conflict",
		base: "a\nb\nc\n", ours: "a\nB1\nc\n", theirs: "a\nb\nC2\n",
		want:      "a\n<<<<<<< ours\nB1\nc\n=======\nb\nC2\n>>>>>>> theirs\n",
		conflicts: 1,
	},
	{
		name: "identical change on both sides",
		base: "a\nb\nc\n", ours: "a\nX\nc\n", theirs: "a\nX\nc\n",
		want: "a\nX\nc\n",
	},
	{
		name: "identical change plus a separate one",
		base: "a\nb\nc\nd\ne\nf\ng\n", ours: "a\nX\nc\nd\ne\nf\ng\n", theirs: "a\nX\nc\nd\ne\nf\nG\n",
		want: "a\nX\nc\nd\ne\nf\nG\n",
	},
	{
		name: "one side unchanged takes the other verbatim",
		base: "a\nb\n", ours: "a\nb\n", theirs: "x\r\ny",
		want: "x\r\ny",
	},
	{
		name: "both insert at the same spot",
		base: "a\nb\n", ours: "a\nours\nb\n", theirs: "a\ntheirs\nb\n",
		want:      "a\n<<<<<<< ours\nours\n=======\ntheirs\n>>>>>>> theirs\nb\n",
		conflicts: 1,
	},
	{
		name: "zealous refinement keeps common lines out",
		base: "a\nb\nc\nd\ne\nf\ng\nh\n",
		ours: "a\nB\nc\nd\ne\nf\ng\nH\n", theirs: "a\nb2\nc\nd\ne\nf\ng\nh2\n",
		want:      "a\n<<<<<<< ours\nB\n=======\nb2\n>>>>>>> theirs\nc\nd\ne\nf\ng\n<<<<<<< ours\nH\n=======\nh2\n>>>>>>> theirs\n",
		conflicts: 2,
	},
	{
		name: "conflicts three lines apart are joined",
		base: "0\n1\n2\n3\n4\n5\n",
		ours: "0\nX\n2\n3\n4\nY\n", theirs: "0\nx\n2\n3\n4\ny\n",
		want:      "0\n<<<<<<< ours\nX\n2\n3\n4\nY\n=======\nx\n2\n3\n4\ny\n>>>>>>> theirs\n",
		conflicts: 1,
	},
	{
		name: "refined conflict with common middle",
		base: "a\nz\n", ours: "a\n1\nsame\n2\nz\n", theirs: "a\n3\nsame\n4\nz\n",
		want:      "a\n<<<<<<< ours\n1\nsame\n2\n=======\n3\nsame\n4\n>>>>>>> theirs\nz\n",
		conflicts: 1,
	},
	{
		name: "missing final newline gets one before the marker",
		base: "a\nb", ours: "a\nc", theirs: "a\nd",
		want:      "a\n<<<<<<< ours\nc\n=======\nd\n>>>>>>> theirs\n",
		conflicts: 1,
	},
	{
		name: "crlf file gets crlf markers",
		base: "a\r\nb\r\nc\r\n", ours: "a\r\nB\r\nc\r\n", theirs: "a\r\nbb\r\nc\r\n",
		want:      "a\r\n<<<<<<< ours\r\nB\r\n=======\r\nbb\r\n>>>>>>> theirs\r\nc\r\n",
		conflicts: 1,
	},
	{
		name: "crlf without final newline",
		base: "a\r\nb", ours: "a\r\nc", theirs: "a\r\nd",
		want:      "a\r\n<<<<<<< ours\r\nc\r\n=======\r\nd\r\n>>>>>>> theirs\r\n",
		conflicts: 1,
	},
	{
		name: "add/add with empty base",
		base: "", ours: "x\ny\n", theirs: "x\nz\n",
		want:      "x\n<<<<<<< ours\ny\n=======\nz\n>>>>>>> theirs\n",
		conflicts: 1,
	},
	{
		name: "delete vs modify",
		base: "a\nb\nc\n", ours: "a\nc\n", theirs: "a\nB\nc\n",
		want:      "a\n<<<<<<< ours\n=======\nB\n>>>>>>> theirs\nc\n",
		conflicts: 1,
	},
	{
		name: "one side emptied the file",
		base: "a\nb\n", ours: "", theirs: "a\nb\nc\n",
		want:      "<<<<<<< ours\n=======\na\nb\nc\n>>>>>>> theirs\n",
		conflicts: 1,
	},
	{
		name: "whitespace-only change is a change",
		base: "a\nb\nc\n", ours: "a\nb \nc\n", theirs: "a\n b\nc\n",
		want:      "a\n<<<<<<< ours\nb \n=======\n b\n>>>>>>> theirs\nc\n",
		conflicts: 1,
	},
	{
		// Overlapping changes whose two sides are the same lines are no
		// conflict once refined (and the region comes from ours).
		name: "overlapping changes with equal sides",
		base: "a\nc\nc\na\nc\n", ours: "a\na\nc\n", theirs: "a\na\na\nb\n",
		want: "a\na\na\nb\n",
	},
	{
		name: "overlapping changes with equal sides 2",
		base: "a\nc\nb\na\nc\n", ours: "c\na\n", theirs: "c\na\nc\n",
		want: "c\na\n",
	},
	{
		name: "overlapping changes with equal sides 3",
		base: "c\na\nb\na\n", ours: "a\nc\nb\nb\n", theirs: "a\nc\nb\na\n",
		want: "a\nc\nb\nb\n",
	},
	{
		name: "single lines without newline",
		base: "a", ours: "b", theirs: "c",
		want:      "<<<<<<< ours\nb\n=======\nc\n>>>>>>> theirs\n",
		conflicts: 1,
	},
	{
		name: "eol style from base when the sides cannot tell",
		base: "a\r\n", ours: "b", theirs: "c",
		want:      "<<<<<<< ours\r\nb\r\n=======\r\nc\r\n>>>>>>> theirs\r\n",
		conflicts: 1,
	},
	{
		name: "crlf markers around an lf line",
		base: "x\r\ny\r\n", ours: "x\r\nb\n", theirs: "x\r\nc\r\n",
		want:      "x\r\n<<<<<<< ours\r\nb\n=======\r\nc\r\n>>>>>>> theirs\r\n",
		conflicts: 1,
	},
	{
		name: "insertion slides to align with the other file",
		base: "a\nb\nc\n", ours: "a\nb\nb\nc\n", theirs: "a\nb\nc\nd\n",
		want: "a\nb\nb\nc\nd\n",
	},
}

// checkHunks verifies that the Hunks point at the right lines: the Result
// range covers a marker block whose parts are the Ours and Theirs lines.
func checkHunks(t *testing.T, ours, theirs []byte, got fileMergeResult, opt fileMergeOptions) {
	t.Helper()
	out := splitLines(got.Content)
	ol, tl := splitLines(ours), splitLines(theirs)
	size := opt.MarkerSize
	if size <= 0 {
		size = 7
	}
	trim := func(l []byte) string { return strings.TrimRight(string(l), "\r\n") }
	prevEnd := 0
	for k, h := range got.Conflicts {
		if h.Result.Start-1 < prevEnd || h.Result.Start-1+h.Result.Count > len(out) {
			t.Fatalf("hunk %d %+v: result range outside the content (%d lines) or overlapping", k, h, len(out))
		}
		prevEnd = h.Result.Start - 1 + h.Result.Count
		block := out[h.Result.Start-1 : prevEnd]
		if h.Result.Count != h.Ours.Count+h.Theirs.Count+3 {
			t.Fatalf("hunk %d %+v: result count", k, h)
		}
		if want := strings.Repeat("<", size) + " " + opt.OursLabel; trim(block[0]) != want {
			t.Fatalf("hunk %d %+v: first line %q, want %q", k, h, block[0], want)
		}
		if want := strings.Repeat("=", size); trim(block[1+h.Ours.Count]) != want {
			t.Fatalf("hunk %d %+v: separator %q", k, h, block[1+h.Ours.Count])
		}
		if want := strings.Repeat(">", size) + " " + opt.TheirsLabel; trim(block[len(block)-1]) != want {
			t.Fatalf("hunk %d %+v: last line %q, want %q", k, h, block[len(block)-1], want)
		}
		sameLines := func(what string, shown [][]byte, side [][]byte, r LineRange) {
			if r.Start < 1 || r.Start-1+r.Count > len(side) {
				t.Fatalf("hunk %d %+v: %s range outside the file (%d lines)", k, h, what, len(side))
			}
			for i, l := range side[r.Start-1 : r.Start-1+r.Count] {
				if trim(shown[i]) != trim(l) {
					t.Fatalf("hunk %d %+v: %s line %d shown as %q, file has %q", k, h, what, i, shown[i], l)
				}
			}
		}
		sameLines("ours", block[1:1+h.Ours.Count], ol, h.Ours)
		sameLines("theirs", block[2+h.Ours.Count:len(block)-1], tl, h.Theirs)
		if h.Base.Start < 1 || h.Base.Count < 0 {
			t.Fatalf("hunk %d %+v: bad base range", k, h)
		}
	}
}

func TestIsBinary(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want bool
	}{
		{nil, false},
		{[]byte("text\n"), false},
		{[]byte("a\x00b"), true},
		{append(bytes.Repeat([]byte{'a'}, 7999), 0), true},
		{append(bytes.Repeat([]byte{'a'}, 8000), 0), false},
	} {
		if got := isBinary(tc.in); got != tc.want {
			t.Errorf("isBinary(len %d) = %v, want %v", len(tc.in), got, tc.want)
		}
	}
}

func TestMergeFileMarkerSizeAndLabels(t *testing.T) {
	got := mergeFile([]byte("a\n"), []byte("b\n"), []byte("c\n"),
		fileMergeOptions{OursLabel: "HEAD:x/y", TheirsLabel: "feature:x/z", MarkerSize: 9})
	want := "<<<<<<<<< HEAD:x/y\nb\n=========\nc\n>>>>>>>>> feature:x/z\n"
	if string(got.Content) != want {
		t.Errorf("got %q, want %q", got.Content, want)
	}
	wantHunks := []Hunk{{
		Base: LineRange{1, 1}, Ours: LineRange{1, 1}, Theirs: LineRange{1, 1}, Result: LineRange{1, 5},
	}}
	if diff := cmp.Diff(wantHunks, got.Conflicts); diff != "" {
		t.Errorf("hunks (-want +got):\n%s", diff)
	}
}

func TestMergeFileHunkBase(t *testing.T) {
	// The base range of a refined conflict covers the base lines behind
	// the conflicting lines of both sides.
	base := "a\nb\nc\nd\ne\nf\ng\nh\n"
	ours := "a\nB\nc\nd\ne\nf\ng\nH\n"
	theirs := "a\nb2\nc\nd\ne\nf\ng\nh2\n"
	got := mergeFile([]byte(base), []byte(ours), []byte(theirs), fileMergeOptions{OursLabel: "o", TheirsLabel: "t"})
	want := []Hunk{
		{Base: LineRange{2, 1}, Ours: LineRange{2, 1}, Theirs: LineRange{2, 1}, Result: LineRange{2, 5}},
		{Base: LineRange{8, 1}, Ours: LineRange{8, 1}, Theirs: LineRange{8, 1}, Result: LineRange{12, 5}},
	}
	if diff := cmp.Diff(want, got.Conflicts); diff != "" {
		t.Errorf("hunks (-want +got):\n%s", diff)
	}
	// A deletion against a change: ours is empty, base has the deleted line.
	got = mergeFile([]byte("a\nb\nc\n"), []byte("a\nc\n"), []byte("a\nB\nc\n"), fileMergeOptions{})
	want = []Hunk{{Base: LineRange{2, 1}, Ours: LineRange{2, 0}, Theirs: LineRange{2, 1}, Result: LineRange{2, 4}}}
	if diff := cmp.Diff(want, got.Conflicts); diff != "" {
		t.Errorf("hunks (-want +got):\n%s", diff)
	}
}

// ---------------------------------------------------------------------------
// Differential test against git.

type mergeCase struct {
	name               string
	base, ours, theirs []byte
}

type gitMergeOutcome struct {
	content    []byte
	conflicted bool
}

func runGit(t testing.TB, dir string, stdin io.Reader, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(dir)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// gitMergeBatch merges all cases with one `git merge-tree` run: each case is
// one file (caseNNNNN) of a base commit and two branch commits, "ours" and
// "theirs", built with fast-import in a fresh bare repository.
func gitMergeBatch(t testing.TB, cases []mergeCase) []gitMergeOutcome {
	t.Helper()
	dir := t.TempDir()
	if _, err := runGit(t, dir, nil, "init", "-q", "--bare", "."); err != nil {
		t.Fatal(err)
	}
	var fi bytes.Buffer
	commit := func(ref, from string, content func(mergeCase) []byte) {
		fmt.Fprintf(&fi, "commit refs/heads/%s\ncommitter t <t@example.com> 1700000000 +0000\ndata 0\n", ref)
		if from != "" {
			fmt.Fprintf(&fi, "from refs/heads/%s\n", from)
		}
		for i, c := range cases {
			b := content(c)
			fmt.Fprintf(&fi, "M 100644 inline %s\ndata %d\n", caseFile(i), len(b))
			fi.Write(b)
			fi.WriteByte('\n')
		}
		fi.WriteByte('\n')
	}
	commit("base", "", func(c mergeCase) []byte { return c.base })
	commit("ours", "base", func(c mergeCase) []byte { return c.ours })
	commit("theirs", "base", func(c mergeCase) []byte { return c.theirs })
	if _, err := runGit(t, dir, &fi, "fast-import", "--quiet"); err != nil {
		t.Fatal(err)
	}

	out, err := runGit(t, dir, nil, "-c", "merge.conflictStyle=merge", "-c", "merge.renames=true",
		"-c", "merge.directoryRenames=conflict",
		"merge-tree", "--write-tree", "--name-only", "ours", "theirs")
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatal(err)
		}
	}
	lines := strings.Split(string(out), "\n")
	tree := lines[0]
	conflicted := map[string]bool{}
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		conflicted[l] = true
	}

	var req bytes.Buffer
	for i := range cases {
		fmt.Fprintf(&req, "%s:%s\n", tree, caseFile(i))
	}
	blobs, err := runGit(t, dir, &req, "cat-file", "--batch")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(bytes.NewReader(blobs))
	res := make([]gitMergeOutcome, len(cases))
	for i := range cases {
		hdr, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading cat-file output: %v", err)
		}
		f := strings.Fields(hdr)
		if len(f) != 3 || f[1] != "blob" {
			t.Fatalf("case %d: unexpected cat-file header %q", i, hdr)
		}
		n, _ := strconv.Atoi(f[2])
		b := make([]byte, n+1)
		if _, err := io.ReadFull(br, b); err != nil {
			t.Fatal(err)
		}
		res[i] = gitMergeOutcome{content: b[:n], conflicted: conflicted[caseFile(i)]}
	}
	return res
}

func caseFile(i int) string { return fmt.Sprintf("case%05d", i) }

// compareWithGit runs the cases through git in batches and through
// mergeFile, and reports every difference.
func compareWithGit(t *testing.T, cases []mergeCase) {
	t.Helper()
	opt := fileMergeOptions{OursLabel: "ours", TheirsLabel: "theirs"}
	const batch = 1000
	failures := 0
	for lo := 0; lo < len(cases); lo += batch {
		part := cases[lo:min(lo+batch, len(cases))]
		want := gitMergeBatch(t, part)
		for i, c := range part {
			got := mergeFile(c.base, c.ours, c.theirs, opt)
			checkHunks(t, c.ours, c.theirs, got, opt)
			if bytes.Equal(got.Content, want[i].content) && (len(got.Conflicts) > 0) == want[i].conflicted {
				continue
			}
			failures++
			if failures <= 5 {
				t.Errorf("%s: differs from git (git conflicted=%v, ours conflicts=%d)\nbase:   %q\nours:   %q\ntheirs: %q\ngit:    %q\ngot:    %q",
					c.name, want[i].conflicted, len(got.Conflicts), c.base, c.ours, c.theirs, want[i].content, got.Content)
			}
		}
	}
	if failures > 0 {
		t.Errorf("%d of %d cases differ from git", failures, len(cases))
	} else {
		t.Logf("%d cases identical to git", len(cases))
	}
}

func TestMergeFileScenariosMatchGit(t *testing.T) {
	requireGit(t)
	var cases []mergeCase
	for _, tc := range namedMergeCases {
		cases = append(cases, mergeCase{tc.name, []byte(tc.base), []byte(tc.ours), []byte(tc.theirs)})
	}
	compareWithGit(t, cases)
}

func TestMergeFileMatchesGit(t *testing.T) {
	requireGit(t)
	r := rand.New(rand.NewPCG(*fileMergeSeed, 0x6d657267))
	cases := make([]mergeCase, *fileMergeN)
	for i := range cases {
		base, ours, theirs, style := randomMergeCase(r)
		cases[i] = mergeCase{name: fmt.Sprintf("seed %d case %d (%s)", *fileMergeSeed, i, style), base: base, ours: ours, theirs: theirs}
	}
	compareWithGit(t, cases)
}

// TestMergeFileHugeMatchesGit runs a few cases of each kind of long file
// through git, so that the classic diff's heuristics (its fallback from the
// histogram diff, discarding of unmatched lines, good snakes, cost limit)
// are checked on every run.
func TestMergeFileHugeMatchesGit(t *testing.T) {
	requireGit(t)
	if testing.Short() {
		t.Skip("long files: skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(*fileMergeSeed, 0x68756765))
	var cases []mergeCase
	for v := range hugeVariants {
		n := 6
		if v == hugeVeryLong {
			n = 2
		}
		if v == hugeBoundary {
			n = 40
		}
		for i := range n {
			base, ours, theirs, style := randomHugeCase(r, newLineGen(r), v)
			cases = append(cases, mergeCase{name: fmt.Sprintf("seed %d huge case %d (%s)", *fileMergeSeed, i, style), base: base, ours: ours, theirs: theirs})
		}
	}
	compareWithGit(t, cases)
}

// TestMergeFileTestdata runs the cases under testdata/filemerge (directories
// holding base, ours, theirs) against git, when there are any.
func TestMergeFileTestdata(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "filemerge", "*"))
	if len(dirs) == 0 {
		t.Skip("no testdata/filemerge cases")
	}
	requireGit(t)
	var cases []mergeCase
	for _, d := range dirs {
		read := func(n string) []byte {
			b, err := os.ReadFile(filepath.Join(d, n))
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			return b
		}
		cases = append(cases, mergeCase{name: d, base: read("base"), ours: read("ours"), theirs: read("theirs")})
	}
	compareWithGit(t, cases)
}

// ---------------------------------------------------------------------------
// Random cases.

// randomMergeCase makes a base and two edited versions of it. Lines come from
// small vocabularies so that they repeat, with CRLF and missing final
// newlines mixed in; some files are long with lines repeated far more than
// 64 times so that the histogram diff falls back to the classic one.
func randomMergeCase(r *rand.Rand) (base, ours, theirs []byte, style string) {
	g := newLineGen(r)
	if r.IntN(100) < 2 {
		v := r.IntN(hugeVariants)
		if v == hugeVeryLong && r.IntN(2) == 0 {
			v = hugeSparse // keep the default run short
		}
		return randomHugeCase(r, g, v)
	}
	var b []string
	switch x := r.IntN(100); {
	case x < 5:
		// empty base (add/add)
	case x < 12:
		b = g.lines(100 + r.IntN(300))
	case x < 14:
		b = g.lines(600 + r.IntN(900))
	default:
		b = g.lines(r.IntN(30))
	}
	heavy := len(b) >= 600
	o, th := b, b
	switch x := r.IntN(10); {
	case x < 2:
		// a change shared by both sides
		common := g.edit(b, 1+r.IntN(2), false)
		o, th = g.edit(common, r.IntN(4), heavy), g.edit(common, r.IntN(4), heavy)
	case x < 3:
		o = g.edit(b, 1+r.IntN(4), heavy)
		th = g.edit(o, 1+r.IntN(3), heavy) // theirs builds on ours
	default:
		o, th = g.edit(b, r.IntN(5), heavy), g.edit(b, r.IntN(5), heavy)
	}
	switch r.IntN(30) {
	case 0:
		o = nil
	case 1:
		th = nil
	}
	return g.join(b), g.join(o), g.join(th), g.style
}

// Variants of randomHugeCase.
const (
	hugeDense     = iota // dense rewrites: the classic diff hits its cost limit
	hugeSparse           // sparse rewrites: long common runs between changes
	hugeUnmatched        // rewrites mostly with new lines: runs of unmatched lines
	hugeVeryLong         // sparse rewrites of a very long file: good-snake heuristic
	hugeBoundary         // the rarest line occurs 63, 64 or 65 times
	hugeVariants
)

// randomHugeCase makes thousands of lines from a small vocabulary (so every
// line is more frequent than the histogram diff accepts) and rewrites chunks
// of them with a mix of known and new lines: the classic diff's discarding
// of unmatched lines, its good-snake heuristic and its cost limit all come
// into play.
func randomHugeCase(r *rand.Rand, g *lineGen, variant int) (base, ours, theirs []byte, style string) {
	g.plain = true
	n, nv := 1500+r.IntN(2500), 6+r.IntN(8)
	maxGap, maxChunk, unmatched := 120, 60, 2
	switch variant {
	case hugeSparse:
		maxGap, maxChunk = 50, 8
	case hugeUnmatched:
		maxGap, maxChunk, unmatched = 80, 20, 8
	case hugeVeryLong:
		// Long enough (ndiags > 4^8) for the cost limit to pass the
		// heuristics' threshold.
		maxGap, maxChunk = 50, 8
		n = 34000 + r.IntN(6000)
		nv = n / 150 // each line still occurs more than 64 times
	case hugeBoundary:
		maxGap, maxChunk = 30, 4
	}
	g.vocab = g.vocab[:0]
	for i := range nv {
		g.vocab = append(g.vocab, fmt.Sprintf("v%d", i))
	}
	var b []string
	if variant == hugeBoundary {
		// Every vocabulary line 70 to 100 times, one of them 63 to 65.
		for i, v := range g.vocab[:2+r.IntN(3)] {
			k := 70 + r.IntN(30)
			if i == 0 {
				k = 63 + r.IntN(3)
			}
			for range k {
				b = append(b, v+g.eol())
			}
		}
		r.Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
	} else {
		b = g.lines(n)
	}
	unique := 0
	rewrite := func(ls []string) []string {
		out := append([]string(nil), ls...)
		for i := r.IntN(maxGap); i < len(out); i += r.IntN(maxGap) {
			n := 1 + r.IntN(maxChunk)
			for j := i; j < min(i+n, len(out)); j++ {
				switch x := r.IntN(10); {
				case x < 4-unmatched/2:
					out[j] = g.line()
				case x < 4+unmatched/2:
					unique++
					out[j] = fmt.Sprintf("new%d%s", unique, g.eol())
				}
			}
			i += n
		}
		return out
	}
	o, th := rewrite(b), rewrite(b)
	if r.IntN(2) == 0 {
		th = g.edit(th, 3, false)
	}
	return g.join(b), g.join(o), g.join(th), fmt.Sprintf("huge%d,%s", variant, g.style)
}

type lineGen struct {
	r     *rand.Rand
	vocab []string
	eol   func() string
	style string
	plain bool // no whitespace variants of vocabulary lines
}

func newLineGen(r *rand.Rand) *lineGen {
	g := &lineGen{r: r}
	var parts []string
	switch x := r.IntN(10); {
	case x < 3:
		n := 2 + r.IntN(3)
		for i := range n {
			g.vocab = append(g.vocab, string(rune('a'+i)))
		}
		parts = append(parts, fmt.Sprintf("vocab%d", n))
	case x < 7:
		n := 5 + r.IntN(15)
		for i := range n {
			g.vocab = append(g.vocab, string(rune('a'+i)))
		}
		parts = append(parts, fmt.Sprintf("vocab%d", n))
	default:
		// code-like: frequent structural lines and unique ones
		g.vocab = []string{"}", "", "\treturn nil", "{", "\tif err != nil {", "\t}", "// x"}
		for i := range 40 {
			g.vocab = append(g.vocab, fmt.Sprintf("stmt%d()", i))
		}
		parts = append(parts, "code")
	}
	switch x := r.IntN(10); {
	case x < 7:
		g.eol = func() string { return "\n" }
	case x < 9:
		g.eol = func() string { return "\r\n" }
		parts = append(parts, "crlf")
	default:
		g.eol = func() string {
			if r.IntN(3) == 0 {
				return "\r\n"
			}
			return "\n"
		}
		parts = append(parts, "mixed-eol")
	}
	g.style = strings.Join(parts, ",")
	return g
}

func (g *lineGen) line() string {
	s := g.vocab[g.r.IntN(len(g.vocab))]
	if g.plain {
		// no variants
	} else if g.r.IntN(25) == 0 {
		s = " " + s // whitespace variants
	} else if g.r.IntN(25) == 0 {
		s += " "
	}
	return s + g.eol()
}

func (g *lineGen) lines(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = g.line()
	}
	return out
}

// edit applies n random edits to a copy of ls. heavy files get many more
// line rewrites, so that the diff is expensive.
func (g *lineGen) edit(ls []string, n int, heavy bool) []string {
	r := g.r
	out := append([]string(nil), ls...)
	if heavy && r.IntN(2) == 0 {
		for i := range out {
			if r.IntN(4) == 0 {
				out[i] = g.line()
			}
		}
	}
	for range n {
		pos := 0
		if len(out) > 0 {
			pos = r.IntN(len(out) + 1)
		}
		switch r.IntN(12) {
		case 0, 1, 2: // insert
			ins := g.lines(1 + r.IntN(4))
			out = append(out[:pos], append(ins, out[pos:]...)...)
		case 3, 4: // delete
			if pos < len(out) {
				k := min(1+r.IntN(4), len(out)-pos)
				out = append(out[:pos], out[pos+k:]...)
			}
		case 5, 6, 7: // replace
			if pos < len(out) {
				k := min(1+r.IntN(3), len(out)-pos)
				rep := g.lines(1 + r.IntN(3))
				out = append(out[:pos], append(rep, out[pos+k:]...)...)
			}
		case 8: // duplicate a block
			if pos < len(out) {
				k := min(1+r.IntN(3), len(out)-pos)
				blk := append([]string(nil), out[pos:pos+k]...)
				out = append(out[:pos+k], append(blk, out[pos+k:]...)...)
			}
		case 9: // edit at the start or the end
			if r.IntN(2) == 0 {
				out = append(g.lines(1+r.IntN(2)), out...)
			} else {
				out = append(out, g.lines(1+r.IntN(2))...)
			}
		case 10: // change a line's ending
			if pos < len(out) {
				l := strings.TrimRight(out[pos], "\r\n")
				if strings.HasSuffix(out[pos], "\r\n") {
					out[pos] = l + "\n"
				} else {
					out[pos] = l + "\r\n"
				}
			}
		case 11: // swap two lines
			if pos+1 < len(out) {
				out[pos], out[pos+1] = out[pos+1], out[pos]
			}
		}
	}
	if len(out) > 0 && r.IntN(6) == 0 { // drop or restore the final newline
		last := &out[len(out)-1]
		if strings.HasSuffix(*last, "\n") {
			*last = strings.TrimRight(*last, "\r\n")
		} else {
			*last += g.eol()
		}
	}
	return out
}

func (g *lineGen) join(ls []string) []byte {
	var b strings.Builder
	for i, l := range ls {
		if i < len(ls)-1 && !strings.HasSuffix(l, "\n") {
			l += g.eol() // only the last line may lack its newline
		}
		b.WriteString(l)
	}
	if b.Len() == 0 {
		return nil
	}
	return []byte(b.String())
}

// ---------------------------------------------------------------------------

func BenchmarkMergeFile(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 7))
	var base []string
	for i := range 4000 {
		switch r.IntN(6) {
		case 0:
			base = append(base, "}\n")
		case 1:
			base = append(base, "\n")
		default:
			base = append(base, fmt.Sprintf("\tstatement(%d)\n", i))
		}
	}
	edit := func(tag string) []byte {
		ls := append([]string(nil), base...)
		for i := range ls {
			if r.IntN(40) == 0 {
				ls[i] = fmt.Sprintf("\t%s(%d)\n", tag, i)
			}
		}
		return []byte(strings.Join(ls, ""))
	}
	bb, ob, tb := []byte(strings.Join(base, "")), edit("ours"), edit("theirs")
	opt := fileMergeOptions{OursLabel: "ours", TheirsLabel: "theirs"}
	b.SetBytes(int64(len(bb)))
	b.ResetTimer()
	for range b.N {
		mergeFile(bb, ob, tb, opt)
	}
}
