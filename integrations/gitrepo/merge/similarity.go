package merge

import (
	"bytes"
	"slices"
)

// This file holds the content-similarity estimator used by rename detection.
// It reproduces the numbers git's diffcore computes (see
// Documentation/gitdiffcore.txt, "diffcore-rename"): a file is cut into
// chunks that end at a newline or after 64 bytes, each chunk is reduced to a
// small hash, and two files are compared by how many bytes' worth of chunks
// of the source reappear in the destination.

const (
	// maxScore is git's full similarity (100%); scores are fractions of it.
	maxScore = 60000
	// defaultRenameScore is git's default rename threshold (50%).
	defaultRenameScore = 30000

	// chunkMax is the longest chunk: a chunk ends at '\n' or after this many bytes.
	chunkMax = 64
	// chunkHashMod reduces a chunk's rolling hash to git's hash space.
	chunkHashMod = 107927
	// similarityBinarySniff is how much of a blob is searched for a NUL byte to
	// call it binary (git's FIRST_FEW_BYTES).
	similarityBinarySniff = 8000
)

// chunkCount is how many bytes of a file fell into chunks with one hash value.
type chunkCount struct {
	hash  uint32
	bytes uint32
}

// fileSignature is what the estimator needs to know about one blob: its size
// and its chunk histogram, sorted by hash value.
type fileSignature struct {
	size   int64
	chunks []chunkCount
}

// isBinaryContent is git's default binary test: a NUL byte near the start.
func isBinaryContent(data []byte) bool {
	if len(data) > similarityBinarySniff {
		data = data[:similarityBinarySniff]
	}
	return bytes.IndexByte(data, 0) >= 0
}

// computeSignature builds the chunk histogram of data. For text, a CR that
// directly precedes a LF is not part of any chunk (so CRLF and LF versions of
// a line hash alike). countTail says whether a last chunk that ends neither
// with '\n' nor at 64 bytes is counted: git 2.43.2 and later count it, older
// versions (2.39 among them) drop it.
func computeSignature(data []byte, countTail bool) fileSignature {
	text := !isBinaryContent(data)
	// Each raw chunk is packed as hash<<32 | length so one sort groups them.
	raw := make([]uint64, 0, len(data)/24+1)
	var a1, a2 uint32
	n := uint32(0)
	emit := func() {
		h := (a1 + a2*0x61) % chunkHashMod
		raw = append(raw, uint64(h)<<32|uint64(n))
		n, a1, a2 = 0, 0, 0
	}
	for i, c := range data {
		if text && c == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			continue
		}
		prev1 := a1
		a1 = a1<<7 ^ a2>>25
		a2 = a2<<7 ^ prev1>>25
		a1 += uint32(c)
		n++
		if n >= chunkMax || c == '\n' {
			emit()
		}
	}
	if n > 0 && countTail {
		emit()
	}
	slices.Sort(raw)
	chunks := make([]chunkCount, 0, len(raw))
	for _, r := range raw {
		h, l := uint32(r>>32), uint32(r)
		if k := len(chunks); k > 0 && chunks[k-1].hash == h {
			chunks[k-1].bytes += l
			continue
		}
		chunks = append(chunks, chunkCount{hash: h, bytes: l})
	}
	return fileSignature{size: int64(len(data)), chunks: slices.Clip(chunks)}
}

// copiedBytes is how many bytes of src's chunks also occur in dst: per hash
// value, the smaller of the two byte counts.
func copiedBytes(src, dst []chunkCount) uint64 {
	var total uint64
	i, j := 0, 0
	for i < len(src) && j < len(dst) {
		switch s, d := src[i], dst[j]; {
		case s.hash < d.hash:
			i++
		case s.hash > d.hash:
			j++
		default:
			total += uint64(min(s.bytes, d.bytes))
			i++
			j++
		}
	}
	return total
}

// sizesCompatible reports whether two files of these sizes could reach
// minScore at all: git does not consider a pair whose size difference is
// more than (100% - threshold) of the larger file.
func sizesCompatible(srcSize, dstSize int64, minScore int) bool {
	maxSize := max(srcSize, dstSize)
	delta := maxSize - min(srcSize, dstSize)
	// git computes this in double precision; keep the same arithmetic.
	return !(float64(maxSize)*(maxScore-float64(minScore)) < float64(delta)*maxScore)
}

// similarityScore is the score (0..maxScore) of dst being src after edits:
// the bytes of src found in dst relative to the larger of the two sizes.
func similarityScore(src, dst *fileSignature) int {
	if dst.size == 0 {
		return 0
	}
	copied := copiedBytes(src.chunks, dst.chunks)
	return int(float64(copied) * maxScore / float64(max(src.size, dst.size)))
}
