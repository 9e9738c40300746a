package merge

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// deltaRepo is a repository of a history of n commits, then one file
// edited in many commits and a copy of it, repacked with args: deltas on
// deltas.
func deltaRepo(t *testing.T, n int, repack ...string) *mbRepo {
	t.Helper()
	var nodes []mbNode
	for i := 0; i < n; i++ {
		var ps []int
		if i > 0 {
			ps = []int{i - 1}
		}
		nodes = append(nodes, mbNode{parents: ps, date: int64(1_700_000_000 + i)})
	}
	r := mbBuildRepo(t, nodes)
	var big strings.Builder
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&big, "line %d of a file that changes a little in every commit\n", i)
	}
	stream := ""
	for i := 0; i < 60; i++ {
		body := strings.Replace(big.String(), fmt.Sprintf("line %d ", i*5), fmt.Sprintf("LINE %d ", i), 1)
		stream += fmt.Sprintf("commit refs/heads/big\ncommitter C <c@example.com> %d +0000\ndata 2\nb\n", 1_700_001_000+i)
		if i == 0 {
			stream += "from refs/heads/b\n"
		}
		stream += fmt.Sprintf("M 644 inline big.txt\ndata %d\n%s\nM 644 inline copy.txt\ndata %d\n%s\n", len(body), body, len(body)+4, body+"end\n")
	}
	mbGit(t, r.dir, []byte(stream), "fast-import", "--quiet")
	mbGit(t, r.dir, nil, repack...)
	return r
}

// TestIndexPackMatchesGit indexes packs git wrote (deltas against offsets,
// deltas against ids, long chains) and checks that the index is the one
// git wrote, byte for byte.
func TestIndexPackMatchesGit(t *testing.T) {
	requireGit(t)
	for _, tc := range []struct {
		name   string
		repack []string
	}{
		{"offset deltas", []string{"repack", "-a", "-d", "-f", "-q", "--depth=80", "--window=50"}},
		{"hash deltas", []string{"-c", "repack.useDeltaBaseOffset=false", "repack", "-a", "-d", "-f", "-q", "--depth=80"}},
		{"no deltas", []string{"repack", "-a", "-d", "-f", "-q", "--depth=0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := deltaRepo(t, 40, tc.repack...)
			packs, _ := filepath.Glob(filepath.Join(r.dir, "objects", "pack", "pack-*.pack"))
			if len(packs) != 1 {
				t.Fatalf("%d packs", len(packs))
			}
			idx := filepath.Join(t.TempDir(), "got.idx")
			sum, err := IndexPack(packs[0], idx)
			if err != nil {
				t.Fatal(err)
			}
			if want := "pack-" + sum.String() + ".pack"; filepath.Base(packs[0]) != want {
				t.Errorf("checksum names %s, the pack is %s", want, filepath.Base(packs[0]))
			}
			got, _ := os.ReadFile(idx)
			want, err := os.ReadFile(strings.TrimSuffix(packs[0], ".pack") + ".idx")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("index differs from git's (%d bytes, git's %d)", len(got), len(want))
			}
		})
	}
}

// TestIndexPackRefusesThinAndDamagedPacks: a thin pack (deltas against
// objects it lacks) is ErrThinPack; a damaged pack is an error, never an
// index.
func TestIndexPackRefusesThinAndDamagedPacks(t *testing.T) {
	requireGit(t)
	r := deltaRepo(t, 40, "repack", "-a", "-d", "-q")
	dir := t.TempDir()
	thin, _ := mbGit(t, r.dir, []byte("big\n^big~10\n"), "pack-objects", "--thin", "--stdout", "--revs", "-q")
	thinPath := filepath.Join(dir, "thin.pack")
	if err := os.WriteFile(thinPath, []byte(thin), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := IndexPack(thinPath, filepath.Join(dir, "thin.idx")); !errors.Is(err, ErrThinPack) {
		t.Errorf("thin pack: %v, want ErrThinPack", err)
	}
	packs, _ := filepath.Glob(filepath.Join(r.dir, "objects", "pack", "pack-*.pack"))
	whole, err := os.ReadFile(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{5, 12, 13, len(whole) / 2, len(whole) - 30, len(whole) - 1} {
		bad := bytes.Clone(whole)
		bad[at] ^= 0x10
		p := filepath.Join(dir, fmt.Sprintf("bad%d.pack", at))
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := IndexPack(p, p+".idx"); err == nil {
			t.Errorf("byte %d of %d changed: indexed", at, len(whole))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "thin.idx")); err == nil {
		t.Error("an index was written for the thin pack")
	}
}
