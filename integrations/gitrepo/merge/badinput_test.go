package merge

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// TestBadInput: every bad input is a clear error, never a panic.
func TestBadInput(t *testing.T) {
	requireGit(t)
	dir := t.TempDir()
	gitCmd(t, dir, nil, "init", "-q", "-b", "master")
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("f.txt", "a\nb\nc\nd\ne\n")
	gitCmd(t, dir, nil, "add", ".")
	gitCmd(t, dir, nil, "commit", "-qm", "base")
	gitCmd(t, dir, nil, "branch", "side")
	write("f.txt", "A\nb\nc\nd\ne\n")
	gitCmd(t, dir, nil, "commit", "-qam", "ours")
	gitCmd(t, dir, nil, "checkout", "-q", "side")
	write("f.txt", "a\nb\nc\nd\nE\n")
	gitCmd(t, dir, nil, "commit", "-qam", "theirs")
	rev := func(r string) plumbing.Hash {
		out, _ := gitCmd(t, dir, nil, "rev-parse", r)
		return plumbing.NewHash(strings.TrimSpace(out))
	}
	ours, theirs, blob := rev("master"), rev("side"), rev("side:f.txt")

	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := New(repo.Storer)
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		ours, theirs plumbing.Hash
		want         string
	}{
		{"unknown commit", ours, plumbing.NewHash("1234567890123456789012345678901234567890"), "1234567"},
		{"a blob is not a commit", ours, blob, "not a commit"},
		{"zero hash", plumbing.ZeroHash, theirs, "0000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.MergeCommits(ctx, tc.ours, tc.theirs, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("MergeCommits: got error %v, want one mentioning %q", err, tc.want)
			}
		})
	}

	t.Run("corrupt object", func(t *testing.T) {
		// theirs' version of f.txt must be read for the content merge:
		// garble its loose object.
		h := blob.String()
		p := filepath.Join(dir, ".git", "objects", h[:2], h[2:])
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("this is not zlib data"), 0o644); err != nil {
			t.Fatal(err)
		}
		fresh, err := git.PlainOpen(dir)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(fresh.Storer).MergeCommits(ctx, ours, theirs, Options{})
		if err == nil || !strings.Contains(err.Error(), h[:7]) {
			t.Fatalf("MergeCommits with a corrupt blob: got error %v, want one naming %s", err, h[:7])
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := New(repo.Storer).MergeCommits(cctx, ours, theirs, Options{}); err == nil {
			t.Fatal("MergeCommits with a cancelled context succeeded")
		}
	})
}
