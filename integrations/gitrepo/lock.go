package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// dirLock is an exclusive lock on a mirror directory held by one process for
// the life of its Mirror: the mirror's storage caches its pack list
// (ExclusiveAccess), so two processes must not use one directory at once.
// Inside the process, Mirror.mu serializes the operations.
type dirLock struct {
	f *os.File
}

// lockRetry is how often acquireLock tries again while another process holds
// the lock.
const lockRetry = 100 * time.Millisecond

// acquireLock takes the lock at path, waiting while another process holds
// it, until ctx is done.
func acquireLock(ctx context.Context, path string) (*dirLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, workflow.Wrap("git.open", workflow.Internal, "", err)
	}
	for {
		err := tryLock(f)
		if err == nil {
			return &dirLock{f: f}, nil
		}
		if !errors.Is(err, errLocked) {
			f.Close()
			return nil, workflow.Wrap("git.open", workflow.Internal, "", fmt.Errorf("lock %s: %w", path, err))
		}
		t := time.NewTimer(lockRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, workflow.Wrap("git.open", workflow.Busy,
				"the git cache is in use by another Code-Releaser process; give each process its own cache dir",
				fmt.Errorf("lock %s: %w", path, ctx.Err()))
		case <-t.C:
		}
	}
}

func (l *dirLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

var errLocked = errors.New("locked by another process")
