//go:build !unix

package merge

import (
	"errors"
	"io"
	"os"
)

// mapReadOnly reads f into memory where mapping is not available.
func mapReadOnly(f *os.File) ([]byte, func() error, error) {
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}

// mapPack does not map where mapping is not available: the pack is read
// with positioned reads.
func mapPack(*os.File, int64) ([]byte, func() error, error) {
	return nil, nil, errors.ErrUnsupported
}
