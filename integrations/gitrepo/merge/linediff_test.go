package merge

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitLines(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a\n", []string{"a\n"}},
		{"a\r\nb", []string{"a\r\n", "b"}},
		{"\n\n", []string{"\n", "\n"}},
	} {
		var got []string
		for _, l := range splitLines([]byte(tc.in)) {
			got = append(got, string(l))
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("splitLines(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestDiffLinesScenarios(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
		want []lineChange
	}{
		{"equal", "a\nb\n", "a\nb\n", nil},
		{"both empty", "", "", nil},
		{"from empty", "", "a\nb\n", []lineChange{{0, 0, 0, 2}}},
		{"to empty", "a\nb\n", "", []lineChange{{0, 2, 0, 0}}},
		{"replace middle", "a\nb\nc\n", "a\nx\nc\n", []lineChange{{1, 1, 1, 1}}},
		{"final newline", "a\nb\n", "a\nb", []lineChange{{1, 1, 1, 1}}},
		{"cr is content", "a\nb\n", "a\r\nb\n", []lineChange{{0, 1, 0, 1}}},
		// An inserted duplicate slides to the lowest position.
		{"slide down", "a\nb\nc\n", "a\nb\nb\nc\n", []lineChange{{2, 0, 2, 1}}},
		{"no common line", "a\nb\n", "c\nd\ne\n", []lineChange{{0, 2, 0, 3}}},
		// The histogram diff anchors on the rare line c, not on the
		// frequent a lines.
		{"rare anchor", "a\na\nc\na\n", "a\nc\na\na\n", []lineChange{{1, 1, 1, 0}, {4, 0, 3, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := diffLines([]byte(tc.a), []byte(tc.b))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			checkScript(t, []byte(tc.a), []byte(tc.b), got)
		})
	}
}

// checkScript verifies that an edit script is well formed and turns a into b.
func checkScript(t *testing.T, a, b []byte, script []lineChange) {
	t.Helper()
	al, bl := splitLines(a), splitLines(b)
	var out [][]byte
	i := 0
	for k, c := range script {
		if c.AStart < i || c.AEnd() > len(al) || c.BEnd() > len(bl) || c.ACount+c.BCount == 0 ||
			(k > 0 && c.AStart == i) {
			t.Fatalf("bad change %d %+v in %+v", k, c, script)
		}
		if c.AStart-i != c.BStart-len(out) {
			t.Fatalf("change %d %+v: unchanged lines do not line up", k, c)
		}
		out = append(out, al[i:c.AStart]...)
		out = append(out, bl[c.BStart:c.BEnd()]...)
		i = c.AEnd()
	}
	out = append(out, al[i:]...)
	if got := bytes.Join(out, nil); !bytes.Equal(got, b) {
		t.Fatalf("script %+v does not turn a into b", script)
	}
}

func TestDiffLinesFallback(t *testing.T) {
	// Every line occurs more than 64 times: the histogram diff hands the
	// whole file to the classic diff.
	var a, b strings.Builder
	for i := range 200 {
		a.WriteString([]string{"x\n", "y\n"}[i%2])
		if i%7 != 3 {
			b.WriteString([]string{"x\n", "y\n"}[i%2])
		}
	}
	got := diffLines([]byte(a.String()), []byte(b.String()))
	checkScript(t, []byte(a.String()), []byte(b.String()), got)
	if len(got) == 0 {
		t.Fatal("no changes")
	}
}

var hunkHeader = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@`)

// gitDiffBatch diffs pairs with one `git diff --no-index --histogram` run
// over two directories, and returns each pair's edit script as read from
// the hunks. It asks for one line of context: with none, git diff trims the
// common tail of the files before diffing (in 1 KiB blocks), which changes
// the result, and the merge does not do that.
func gitDiffBatch(t *testing.T, pairs [][2][]byte) [][]lineChange {
	t.Helper()
	dir := t.TempDir()
	for side, name := range []string{"a", "b"} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		for i, p := range pairs {
			if err := os.WriteFile(filepath.Join(dir, name, caseFile(i)), p[side], 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := runGit(t, dir, nil, "diff", "--no-index", "--histogram", "--no-indent-heuristic",
		"-U1", "--no-color", "--no-ext-diff", "--no-renames", "a", "b")
	if err != nil && len(out) == 0 {
		t.Fatal(err)
	}
	res := make([][]lineChange, len(pairs))
	cur := -1
	var ai, bi int       // next line of a and b in the current hunk
	var open *lineChange // change being read
	flush := func() {
		if open != nil {
			res[cur] = append(res[cur], *open)
			open = nil
		}
	}
	start := func(s, c string) int {
		n, _ := strconv.Atoi(s)
		if c != "0" {
			n-- // 1-based line, unless the range is empty
		}
		return n
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<26)
	inHunk := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "diff --git ") {
			flush()
			inHunk = false
			f := strings.Fields(line)
			n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(f[len(f)-1]), "case"))
			if err != nil {
				t.Fatalf("unexpected diff header %q", line)
			}
			cur = n
			continue
		}
		if m := hunkHeader.FindStringSubmatch(line); m != nil {
			flush()
			inHunk = true
			ai, bi = start(m[1], m[2]), start(m[3], m[4])
			continue
		}
		if !inHunk || line == "" {
			continue
		}
		switch line[0] {
		case ' ':
			flush()
			ai++
			bi++
		case '-', '+':
			if open == nil {
				open = &lineChange{AStart: ai, BStart: bi}
			}
			if line[0] == '-' {
				open.ACount++
				ai++
			} else {
				open.BCount++
				bi++
			}
		}
	}
	flush()
	return res
}

func TestDiffLinesMatchesGit(t *testing.T) {
	requireGit(t)
	r := rand.New(rand.NewPCG(*fileMergeSeed, 0x64696666))
	n := *fileMergeN / 2
	var pairs [][2][]byte
	for range n {
		base, ours, theirs, _ := randomMergeCase(r)
		other := ours
		if r.IntN(2) == 0 {
			other = theirs
		}
		pairs = append(pairs, [2][]byte{base, other})
	}
	failures := 0
	const batch = 1000
	for lo := 0; lo < len(pairs); lo += batch {
		part := pairs[lo:min(lo+batch, len(pairs))]
		want := gitDiffBatch(t, part)
		for i, p := range part {
			got := diffLines(p[0], p[1])
			checkScript(t, p[0], p[1], got)
			if diff := cmp.Diff(want[i], got); diff != "" {
				failures++
				if failures <= 5 {
					t.Errorf("pair %d: differs from git (-git +got):\n%s\na: %q\nb: %q", lo+i, diff, p[0], p[1])
				}
			}
		}
	}
	if failures > 0 {
		t.Errorf("%d of %d pairs differ from git", failures, len(pairs))
	} else {
		t.Logf("%d pairs identical to git", len(pairs))
	}
}
