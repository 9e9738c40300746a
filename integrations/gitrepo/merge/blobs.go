package merge

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// blobCache reads blobs once per merge and writes merged blobs.
type blobCache struct {
	store storer.EncodedObjectStorer
	mu    sync.Mutex
	data  map[plumbing.Hash][]byte
}

func newBlobCache(s storer.EncodedObjectStorer) *blobCache {
	return &blobCache{store: s, data: map[plumbing.Hash][]byte{}}
}

func (c *blobCache) readBlob(ctx context.Context, h plumbing.Hash) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	b, ok := c.data[h]
	c.mu.Unlock()
	if ok {
		return b, nil
	}
	obj, err := c.store.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", short(h), err)
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", short(h), err)
	}
	defer r.Close()
	b, err = io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", short(h), err)
	}
	c.mu.Lock()
	c.data[h] = b
	c.mu.Unlock()
	return b, nil
}

// write stores content as a blob and returns its hash.
func (c *blobCache) write(content []byte) (plumbing.Hash, error) {
	obj := c.store.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(content)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(content); err != nil {
		w.Close()
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := c.store.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	c.mu.Lock()
	c.data[h] = content
	c.mu.Unlock()
	return h, nil
}
