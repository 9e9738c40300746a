package merge

import (
	"context"
	"fmt"
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
	b, err = objectBytes(obj)
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
	obj := &plumbing.MemoryObject{}
	obj.SetType(plumbing.BlobObject)
	if _, err := obj.Write(content); err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := storeObject(c.store, obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	c.mu.Lock()
	c.data[h] = content
	c.mu.Unlock()
	return h, nil
}

// storeObject writes obj unless the store already has it, as git does:
// most trees a merge produces equal one side's, and go-git's filesystem
// storage would rewrite each as a new loose object.
func storeObject(s storer.EncodedObjectStorer, obj *plumbing.MemoryObject) (plumbing.Hash, error) {
	h := obj.Hash()
	if err := s.HasEncodedObject(h); err == nil {
		return h, nil
	}
	if _, err := s.SetEncodedObject(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write %s %s: %w", obj.Type(), short(h), err)
	}
	return h, nil
}
