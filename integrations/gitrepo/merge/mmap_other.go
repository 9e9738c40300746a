//go:build !unix

package merge

import (
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
