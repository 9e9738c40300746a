package merge

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// zlibStream compresses data at a zlib level (0: stored blocks, -2: Huffman
// codes only, 1 and 9: fixed and dynamic blocks with matches).
func zlibStream(t testing.TB, data []byte, level int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := zlib.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sampleData is text-like data with repeats (long matches, overlapping
// copies), runs and noise.
func sampleData(r *rand.Rand, n int) []byte {
	words := []string{"tree ", "parent ", "author ", "committer ", "\n", "a", "aaaaaaaaaaaaaaaa", "0123456789abcdef", " +0000"}
	var b bytes.Buffer
	for b.Len() < n {
		switch r.IntN(4) {
		case 0:
			b.WriteByte(byte(r.IntN(256)))
		case 1:
			if b.Len() > 0 {
				start := r.IntN(b.Len())
				b.Write(bytes.Clone(b.Bytes()[start:min(b.Len(), start+r.IntN(300))]))
			}
		default:
			b.WriteString(words[r.IntN(len(words))])
		}
	}
	return b.Bytes()[:n]
}

// checkInflate inflates stream with the pack reader's inflater, expecting
// want (or an error when want is nil), fed in pieces of every size.
func checkInflate(t *testing.T, stream []byte, size int, want []byte, wantErr bool) {
	t.Helper()
	var f inflater
	for _, piece := range []int{0, 1, 7, 100} {
		out := make([]byte, size)
		err := f.inflate(&sliceChunks{b: stream, n: piece}, out)
		switch {
		case wantErr && err == nil:
			t.Fatalf("pieces of %d: inflated %d bytes where compress/zlib fails", piece, size)
		case !wantErr && err != nil:
			t.Fatalf("pieces of %d: %v where compress/zlib inflates %d bytes", piece, err, size)
		case !wantErr && !bytes.Equal(out, want):
			t.Fatalf("pieces of %d: inflated content differs from compress/zlib's", piece)
		}
		if wantErr {
			continue
		}
		// followed by other bytes (the next object of a pack): the stream's
		// length is known
		more := append(bytes.Clone(stream), "the next object"...)
		if err := f.inflate(&sliceChunks{b: more, n: piece}, out); err != nil || f.consumed() != len(stream) {
			t.Fatalf("pieces of %d, bytes after the stream: %v, consumed %d of a %d-byte stream", piece, err, f.consumed(), len(stream))
		}
	}
}

// TestInflateAgreesWithZlib inflates streams of every block type and size
// (empty, one byte, a commit's size, several blocks) and checks the
// content against compress/zlib's.
func TestInflateAgreesWithZlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 2, 57, 218, 1000, 70000, 300000} {
		data := sampleData(r, size)
		for _, level := range []int{zlib.NoCompression, zlib.HuffmanOnly, zlib.BestSpeed, zlib.DefaultCompression, zlib.BestCompression} {
			t.Run(fmt.Sprintf("size %d level %d", size, level), func(t *testing.T) {
				checkInflate(t, zlibStream(t, data, level), size, data, false)
			})
		}
	}
}

// TestInflateRefusesWhatZlibRefuses damages streams (a flipped bit, a
// byte changed, a cut) and checks that the inflater fails exactly where
// compress/zlib does, and otherwise gives the same content: a corrupt
// object is never read as another content.
func TestInflateRefusesWhatZlibRefuses(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	refused := 0
	for i := range 4000 {
		data := sampleData(r, []int{0, 10, 218, 3000}[i%4])
		stream := zlibStream(t, data, []int{0, -2, 1, 6, 9}[r.IntN(5)])
		bad := bytes.Clone(stream)
		switch r.IntN(3) {
		case 0:
			k := r.IntN(len(bad) * 8)
			bad[k/8] ^= 1 << (k % 8)
		case 1:
			bad[r.IntN(len(bad))] = byte(r.IntN(256))
		default:
			bad = bad[:r.IntN(len(bad))]
		}
		got, err := io.ReadAll(mustZlib(bad))
		wantErr := err != nil
		if wantErr {
			refused++
		}
		checkInflate(t, bad, len(got), got, wantErr)
		// and a header that announces another size fails
		if !wantErr {
			checkInflate(t, bad, len(got)+1, nil, true)
			if len(got) > 0 {
				checkInflate(t, bad, len(got)-1, nil, true)
			}
		}
	}
	if refused < 2000 {
		t.Fatalf("only %d of 4000 damaged streams refused: the damage is too weak to test anything", refused)
	}
}

// mustZlib is a compress/zlib reader of b, or one that fails at once.
func mustZlib(b []byte) io.Reader {
	z, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return errReader{err}
	}
	return z
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// FuzzInflate compares the inflater with compress/zlib on any input.
func FuzzInflate(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, level := range []int{0, -2, 1, 9} {
		f.Add(zlibStream(f, sampleData(r, 300), level))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		got, err := io.ReadAll(mustZlib(stream))
		if len(got) > 1<<20 {
			return
		}
		checkInflate(t, stream, len(got), got, err != nil)
	})
}

// BenchmarkInflateCommit inflates a commit-sized object: the pack
// reader's inflater against compress/zlib.
func BenchmarkInflateCommit(b *testing.B) {
	data := []byte("tree 644503f02053b6ae4775a3cdf5ff635a1f140826\nparent 9f79f17619ca6ff49420d78b0ebd1d02f666af63\n" +
		"parent 004dcf03e6ea261420480e4334062e352a1458ec\nauthor Dev 88 <dev88@example.com> 1127002851 +0000\n" +
		"committer Dev <dev@example.com> 1127002851 +0000\n\nchange 59937\n")
	stream := zlibStream(b, data, zlib.DefaultCompression)
	out := make([]byte, len(data))
	b.Run("inflater", func(b *testing.B) {
		var f inflater
		for range b.N {
			if err := f.inflate(&sliceChunks{b: stream}, out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("compress/zlib", func(b *testing.B) {
		z, _ := zlib.NewReader(bytes.NewReader(stream))
		br := bytes.NewReader(stream)
		for range b.N {
			br.Reset(stream)
			if err := z.(zlib.Resetter).Reset(br, nil); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(z, out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
