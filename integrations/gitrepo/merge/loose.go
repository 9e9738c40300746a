package merge

// Loose objects (objects/XX/YYYY…): a zlib stream of "TYPE SIZE\0" and
// the object's content, inflated here by the engine's inflater, so that a
// binary reading them needs no compress/flate (whose tables are built at
// every process start).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
)

// ReadLooseObject parses the content of a loose object file. A stream that
// does not inflate, a header that names no type or a size the content does
// not have, and bytes after the stream are errors, as git reports them.
func ReadLooseObject(file []byte) (plumbing.ObjectType, []byte, error) {
	var f inflater
	// The size is in the stream: inflate its start until the header is
	// there (a stored block is only written whole, so grow the window).
	var header []byte
	for window := 64; header == nil; window *= 4 {
		out := make([]byte, window)
		n, err := f.inflatePrefix(&sliceChunks{b: file}, out)
		if err != nil && !errors.Is(err, errInflateLonger) && !errors.Is(err, errInflateShorter) {
			return 0, nil, fmt.Errorf("loose object: %w", err)
		}
		if nul := bytes.IndexByte(out[:n], 0); nul >= 0 {
			header = out[:nul]
		} else if n < window && !errors.Is(err, errInflateLonger) || window >= 1<<20 {
			return 0, nil, errors.New("loose object: no header")
		}
	}
	typName, sizeText, _ := bytes.Cut(header, []byte(" "))
	typ, err := plumbing.ParseObjectType(string(typName))
	size, serr := strconv.ParseUint(string(sizeText), 10, 64)
	if err != nil || serr != nil || typ < plumbing.CommitObject || typ > plumbing.TagObject || size > maxObjectSize {
		return 0, nil, fmt.Errorf("loose object: bad header %q", header)
	}
	out := make([]byte, len(header)+1+int(size))
	src := &sliceChunks{b: file}
	if err := f.inflate(src, out); err != nil {
		return 0, nil, fmt.Errorf("loose object of %d bytes: %w", size, err)
	}
	if f.consumed() != len(file) {
		return 0, nil, fmt.Errorf("loose object: %d bytes of garbage after it", len(file)-f.consumed())
	}
	return typ, out[len(header)+1:], nil
}

// sliceChunks feeds an inflater a byte slice in pieces of at most n bytes
// (n < 1: in one piece).
type sliceChunks struct {
	b []byte
	n int
}

func (s *sliceChunks) chunk() ([]byte, error) {
	if len(s.b) == 0 {
		return nil, io.ErrUnexpectedEOF
	}
	k := len(s.b)
	if s.n > 0 {
		k = min(k, s.n)
	}
	c := s.b[:k]
	s.b = s.b[k:]
	return c, nil
}
