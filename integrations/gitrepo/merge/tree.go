package merge

// Tree objects, read and written here rather than through go-git's
// plumbing/object: that package links OpenPGP (for signed commits), whose
// initialisation alone is a tenth of the merge-tree binary's start.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// errMalformedTree is a tree object that does not parse.
var errMalformedTree = errors.New("malformed tree")

// treeEntry is one entry of a tree object.
type treeEntry struct {
	name string
	mode filemode.FileMode
	hash plumbing.Hash
}

// objectBytes returns obj's content: a packed object's own bytes, else
// what its reader gives.
func objectBytes(obj plumbing.EncodedObject) ([]byte, error) {
	if po, ok := obj.(*packedObject); ok {
		return po.data, nil
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// readTree reads the entries of tree h in their order, with modes made
// canonical as git's tree walk makes them (any regular file is 100644 or,
// with its owner's execute bit, 100755; a mode of no known type is a
// submodule).
func readTree(s storer.EncodedObjectStorer, h plumbing.Hash) ([]treeEntry, error) {
	obj, err := s.EncodedObject(plumbing.TreeObject, h)
	if err != nil {
		return nil, err
	}
	b, err := objectBytes(obj)
	if err != nil {
		return nil, err
	}
	return parseTree(b)
}

// parseTree parses a tree object's content: entries of "MODE NAME\0" and
// a 20-byte id.
func parseTree(b []byte) ([]treeEntry, error) {
	var out []treeEntry
	for len(b) > 0 {
		sp := bytes.IndexByte(b, ' ')
		if sp <= 0 {
			return nil, fmt.Errorf("%w: bad mode", errMalformedTree)
		}
		m, err := strconv.ParseUint(string(b[:sp]), 8, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: bad mode %q", errMalformedTree, b[:sp])
		}
		b = b[sp+1:]
		nul := bytes.IndexByte(b, 0)
		if nul < 0 {
			return nil, fmt.Errorf("%w: no end to a name", errMalformedTree)
		}
		if nul == 0 {
			return nil, fmt.Errorf("%w: empty name", errMalformedTree)
		}
		e := treeEntry{name: string(b[:nul]), mode: canonicalMode(filemode.FileMode(m))}
		b = b[nul+1:]
		if len(b) < len(e.hash) {
			return nil, fmt.Errorf("%w: truncated id for %q", errMalformedTree, e.name)
		}
		copy(e.hash[:], b)
		b = b[len(e.hash):]
		out = append(out, e)
	}
	return out, nil
}

// canonicalMode is git's canon_mode.
func canonicalMode(m filemode.FileMode) filemode.FileMode {
	switch m & 0o170000 {
	case 0o040000:
		return filemode.Dir
	case 0o100000:
		if m&0o100 != 0 {
			return filemode.Executable
		}
		return filemode.Regular
	case 0o120000:
		return filemode.Symlink
	}
	return filemode.Submodule
}

// encodeTree makes a tree object of entries, which it sorts as git
// orders them: by name, a directory's as if it ended with '/'.
func encodeTree(entries []treeEntry) (*plumbing.MemoryObject, error) {
	sort.Slice(entries, func(i, j int) bool { return treeOrderKey(entries[i]) < treeOrderKey(entries[j]) })
	size := 0
	for _, e := range entries {
		if e.name == "" || bytes.IndexByte([]byte(e.name), 0) >= 0 {
			return nil, fmt.Errorf("encode tree: bad name %q", e.name)
		}
		size += 7 + len(e.name) + 1 + len(e.hash)
	}
	b := make([]byte, 0, size)
	for _, e := range entries {
		b = strconv.AppendUint(b, uint64(e.mode), 8)
		b = append(b, ' ')
		b = append(b, e.name...)
		b = append(b, 0)
		b = append(b, e.hash[:]...)
	}
	obj := &plumbing.MemoryObject{}
	obj.SetType(plumbing.TreeObject)
	if _, err := obj.Write(b); err != nil {
		return nil, fmt.Errorf("encode tree: %w", err)
	}
	return obj, nil
}

// treeOrderKey sorts tree entries as git does: directories as if their
// name ended with '/'.
func treeOrderKey(e treeEntry) string {
	if e.mode == filemode.Dir {
		return e.name + "/"
	}
	return e.name
}
