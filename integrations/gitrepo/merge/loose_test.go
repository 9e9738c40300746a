package merge

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// looseFile is a loose object file as git writes one, at a zlib level.
func looseFile(t *testing.T, level int, typ plumbing.ObjectType, content []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := zlib.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "%s %d\x00", typ, len(content))
	w.Write(content)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestReadLooseObject reads loose objects of every type and of sizes
// around the window it starts with and a stored block's 64 KiB, written at
// git's loose compression levels (0: stored, 1: git's default, 9).
func TestReadLooseObject(t *testing.T) {
	long := []byte(strings.Repeat("a line of text\n", 6000)) // 90,000 bytes
	for _, level := range []int{0, 1, 9} {
		for _, typ := range []plumbing.ObjectType{plumbing.BlobObject, plumbing.TreeObject, plumbing.CommitObject, plumbing.TagObject} {
			for _, n := range []int{0, 1, 50, 63, 64, 65, 1000, 65535, 65536, len(long)} {
				content := long[:n]
				typ2, got, err := ReadLooseObject(looseFile(t, level, typ, content))
				if err != nil || typ2 != typ || !bytes.Equal(got, content) {
					t.Fatalf("level %d, %s of %d bytes: %s of %d bytes, %v", level, typ, n, typ2, len(got), err)
				}
			}
		}
	}
}

// TestReadLooseObjectRejects: damaged loose objects are errors.
func TestReadLooseObjectRejects(t *testing.T) {
	good := looseFile(t, 1, plumbing.BlobObject, []byte("content\n"))
	deflated := func(s string) []byte {
		var b bytes.Buffer
		w := zlib.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	for name, file := range map[string][]byte{
		"empty":                     nil,
		"not zlib":                  []byte("blob 8\x00content\n"),
		"cut short":                 good[:len(good)-5],
		"garbage after":             append(append([]byte{}, good...), "xyz"...),
		"a size too big":            deflated("blob 9\x00content\n"),
		"a size too small":          deflated("blob 7\x00content\n"),
		"no type":                   deflated("bolb 8\x00content\n"),
		"a delta type":              deflated("ofs-delta 8\x00content\n"),
		"no header end":             deflated("blob 8 content"),
		"a size that is no number":  deflated("blob x\x00content\n"),
		"a checksum that is wrong":  append(good[:len(good)-1:len(good)-1], good[len(good)-1]^1),
		"a size beyond any object":  deflated("blob 99999999999999\x00content\n"),
		"a header of only the type": deflated("blob\x00content\n"),
	} {
		if typ, got, err := ReadLooseObject(file); err == nil {
			t.Errorf("%s: read as a %s of %q", name, typ, got)
		}
	}
}
