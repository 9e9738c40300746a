//go:build !unix

package gitrepo

import "os"

// Without flock, the in-process mutex is the only serialization: run one
// process per cache dir.
func tryLock(f *os.File) error { return nil }

func unlock(f *os.File) error { return nil }
