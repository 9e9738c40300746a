package merge

import (
	"context"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// fileEntry is one non-tree entry (blob, symlink or gitlink) of a tree, by
// its full slash-separated path.
type fileEntry struct {
	path string
	mode filemode.FileMode
	hash plumbing.Hash
}

// blobSource reads blob contents; the tree merge passes one that caches.
type blobSource interface {
	readBlob(ctx context.Context, h plumbing.Hash) ([]byte, error)
}

// LineRange is a range of lines in one version of a file: Start is 1-based,
// Count may be 0 (then Start is the line the empty range sits before).
type LineRange struct {
	Start int `json:"start"`
	Count int `json:"count"`
}

// Hunk is one conflicting region of a text file: the lines each version has
// there. Result is where the conflict-marker block sits in the merged file
// (markers included).
type Hunk struct {
	Base   LineRange `json:"base"`
	Ours   LineRange `json:"ours"`
	Theirs LineRange `json:"theirs"`
	Result LineRange `json:"result"`
}
