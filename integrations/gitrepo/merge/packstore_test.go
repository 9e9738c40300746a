package merge

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// TestPackedStoreReadsEveryObject reads every object of packed
// repositories (deltas against offsets, deltas against hashes, long delta
// chains) with the pack reader and checks each against its object id: the
// type and content hash to the id, the size is git's.
func TestPackedStoreReadsEveryObject(t *testing.T) {
	requireGit(t)
	for _, tc := range []struct {
		name      string
		repack    []string
		deltaType plumbing.ObjectType
	}{
		{"offset deltas", []string{"repack", "-a", "-d", "-f", "-q", "--depth=80", "--window=50"}, plumbing.OFSDeltaObject},
		{"hash deltas", []string{"-c", "repack.useDeltaBaseOffset=false", "repack", "-a", "-d", "-f", "-q", "--depth=80"}, plumbing.REFDeltaObject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A history, then one growing file edited in many commits and
			// a copy of it: deltas on deltas.
			r := deltaRepo(t, 120, tc.repack...)
			// Read through the mapped pack, and with positioned reads as
			// where it cannot be mapped.
			for _, mapped := range []bool{true, false} {
				ps, err := openPackedStore(r.storer, filepath.Join(r.dir, "objects"))
				if err != nil {
					t.Fatal(err)
				}
				if len(ps.packs) != 1 {
					t.Fatalf("%d packs, want 1", len(ps.packs))
				}
				if p := ps.packs[0]; !mapped {
					if p.unmapPk != nil {
						if err := p.unmapPk(); err != nil {
							t.Fatal(err)
						}
					}
					p.mapped, p.unmapPk = nil, nil
				} else if p.mapped == nil && runtime.GOOS != "windows" && runtime.GOOS != "plan9" && runtime.GOOS != "js" && runtime.GOOS != "wasip1" {
					t.Fatalf("the pack is not mapped on %s", runtime.GOOS)
				}
				out, _ := mbGit(t, r.dir, nil, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype) %(objectsize) %(deltabase)")
				deltas := 0
				lines := strings.Split(strings.TrimSpace(out), "\n")
				for _, line := range lines {
					var id, typ, base string
					var size int64
					if _, err := fmt.Sscan(line, &id, &typ, &size, &base); err != nil {
						t.Fatalf("%q: %v", line, err)
					}
					h := plumbing.NewHash(id)
					if base != plumbing.ZeroHash.String() {
						deltas++
						off, _ := ps.packs[0].find(h)
						if dt, _, _, err := ps.packs[0].header(off); err != nil || dt != tc.deltaType {
							t.Fatalf("%s is stored as a %v (%v), want a %v", id, dt, err, tc.deltaType)
						}
					}
					obj, err := ps.EncodedObject(plumbing.AnyObject, h)
					if err != nil {
						t.Fatalf("%s: %v", id, err)
					}
					rd, _ := obj.Reader()
					data, _ := io.ReadAll(rd)
					if got := plumbing.ComputeHash(obj.Type(), data); got != h || obj.Type().String() != typ || int64(len(data)) != size {
						t.Fatalf("%s: read a %s of %d bytes hashing to %s; git says a %s of %d bytes", id, obj.Type(), len(data), got, typ, size)
					}
					if sz, err := ps.EncodedObjectSize(h); err != nil || sz != size {
						t.Errorf("%s: size %d, %v; want %d", id, sz, err, size)
					}
					if err := ps.HasEncodedObject(h); err != nil {
						t.Errorf("%s: HasEncodedObject: %v", id, err)
					}
					if typ != "blob" {
						if _, err := ps.EncodedObject(plumbing.BlobObject, h); !errors.Is(err, plumbing.ErrObjectNotFound) {
							t.Errorf("%s (a %s) read as a blob: %v", id, typ, err)
						}
					}
				}
				if deltas < 50 {
					t.Fatalf("only %d of %d objects are deltas: the test does not test deltas", deltas, len(lines))
				}
				missing := plumbing.NewHash("0123456789012345678901234567890123456789")
				if err := ps.HasEncodedObject(missing); !errors.Is(err, plumbing.ErrObjectNotFound) {
					t.Errorf("HasEncodedObject(missing) = %v", err)
				}
				if _, err := ps.EncodedObject(plumbing.AnyObject, missing); !errors.Is(err, plumbing.ErrObjectNotFound) {
					t.Errorf("EncodedObject(missing) = %v", err)
				}
				t.Logf("mapped %v: %d objects read, %d of them deltas", mapped, len(lines), deltas)
				ps.close()
			}
		})
	}
}

// TestPackedStoreCorruptPack damages a pack and reads every object: each
// read either fails or gives the object's exact content, never other bytes
// and never a panic.
func TestPackedStoreCorruptPack(t *testing.T) {
	requireGit(t)
	var nodes []mbNode
	for i := 0; i < 40; i++ {
		var ps []int
		if i > 0 {
			ps = []int{i - 1}
		}
		nodes = append(nodes, mbNode{parents: ps, date: int64(1_700_000_000 + i)})
	}
	r := mbBuildRepo(t, nodes)
	mbGit(t, r.dir, nil, "repack", "-a", "-d", "-f", "-q")
	packs, _ := filepath.Glob(filepath.Join(r.dir, "objects", "pack", "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("%d packs", len(packs))
	}
	data, err := os.ReadFile(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	out, _ := mbGit(t, r.dir, nil, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
	ids := strings.Fields(out)
	failed := 0
	for k := 1; k < 12; k++ {
		bad := append([]byte(nil), data...)
		at := 12 + (len(bad)-32)*k/12
		for i := at; i < at+8 && i < len(bad)-20; i++ {
			bad[i] ^= 0x5a
		}
		if err := os.WriteFile(packs[0], bad, 0o644); err != nil {
			t.Fatal(err)
		}
		ps, err := openPackedStore(r.storer, filepath.Join(r.dir, "objects"))
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			h := plumbing.NewHash(id)
			obj, err := ps.EncodedObject(plumbing.AnyObject, h)
			if err != nil {
				failed++
				continue
			}
			rd, _ := obj.Reader()
			b, _ := io.ReadAll(rd)
			if plumbing.ComputeHash(obj.Type(), b) != h {
				t.Errorf("damage at %d: %s read without an error but with other content", at, id)
			}
		}
		ps.close()
	}
	if failed == 0 {
		t.Fatal("no read failed: the damage did not reach any object")
	}
}

// countingStorer counts the reads that reach the repository's own storer.
type countingStorer struct {
	storer.EncodedObjectStorer
	reads int
}

func (c *countingStorer) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	c.reads++
	return c.EncodedObjectStorer.EncodedObject(t, h)
}

func (c *countingStorer) HasEncodedObject(h plumbing.Hash) error {
	c.reads++
	return c.EncodedObjectStorer.HasEncodedObject(h)
}

func (c *countingStorer) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	c.reads++
	return c.EncodedObjectStorer.EncodedObjectSize(h)
}

// TestPackedStoreObjectsOutsideItsPacks: an object the packs opened by the
// store lack is not found without asking the repository's storer (go-git's
// first look decodes every pack index whole: a fetch asked it for each
// object it wanted), and is still found when the storer has it: a loose
// object, or one in a pack written after the store was opened.
func TestPackedStoreObjectsOutsideItsPacks(t *testing.T) {
	r := mbBuildRepo(t, []mbNode{{date: 1_700_000_000}, {parents: []int{0}, date: 1_700_000_001}})
	mbGit(t, r.dir, nil, "repack", "-a", "-d", "-q")
	cs := &countingStorer{EncodedObjectStorer: r.storer}
	ps, err := openPackedStore(cs, filepath.Join(r.dir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	defer ps.close()
	if len(ps.packs) != 1 {
		t.Fatalf("%d packs, want 1", len(ps.packs))
	}
	if _, err := ps.EncodedObject(plumbing.AnyObject, r.hashes[1]); err != nil {
		t.Fatalf("packed commit: %v", err)
	}
	missing := plumbing.NewHash("0123456789012345678901234567890123456789")
	if _, err := ps.EncodedObject(plumbing.AnyObject, missing); err != plumbing.ErrObjectNotFound {
		t.Errorf("EncodedObject(missing) = %v, want plumbing.ErrObjectNotFound (what go-git's fetch compares with)", err)
	}
	if err := ps.HasEncodedObject(missing); err != plumbing.ErrObjectNotFound {
		t.Errorf("HasEncodedObject(missing) = %v", err)
	}
	if _, err := ps.EncodedObjectSize(missing); err != plumbing.ErrObjectNotFound {
		t.Errorf("EncodedObjectSize(missing) = %v", err)
	}
	if cs.reads != 0 {
		t.Errorf("the repository's storer was asked %d times for objects no pack or file holds", cs.reads)
	}

	out, _ := mbGit(t, r.dir, []byte("a loose blob\n"), "hash-object", "-w", "--stdin")
	loose := plumbing.NewHash(strings.TrimSpace(out))
	if obj, err := ps.EncodedObject(plumbing.AnyObject, loose); err != nil || obj.Type() != plumbing.BlobObject {
		t.Errorf("loose blob: %v, %v", obj, err)
	}
	if err := ps.HasEncodedObject(loose); err != nil {
		t.Errorf("HasEncodedObject(loose blob) = %v", err)
	}

	// fast-import writes a pack of its own
	mbGit(t, r.dir, []byte("commit refs/heads/later\ncommitter C <c@example.com> 1700000100 +0000\ndata 6\nlater\nM 644 inline later.txt\ndata 6\nlater\n\n"),
		"-c", "fastimport.unpackLimit=0", "fast-import", "--quiet")
	if idxs, _ := filepath.Glob(filepath.Join(r.dir, "objects", "pack", "*.idx")); len(idxs) != 2 {
		t.Fatalf("%d pack indexes after fast-import, want 2", len(idxs))
	}
	out, _ = mbGit(t, r.dir, nil, "rev-parse", "refs/heads/later")
	later := plumbing.NewHash(strings.TrimSpace(out))
	if obj, err := ps.EncodedObject(plumbing.AnyObject, later); err != nil || obj.Type() != plumbing.CommitObject {
		t.Errorf("commit in a pack written after the store was opened: %v, %v", obj, err)
	}
	if _, err := ps.EncodedObjectSize(later); err != nil {
		t.Errorf("EncodedObjectSize(commit in a new pack) = %v", err)
	}
}
