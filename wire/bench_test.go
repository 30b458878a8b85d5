package wire

import (
	"bytes"
	"io"
	"testing"
)

// loopReader serves the same bytes over and over, so a benchmark reads an
// endless stream without allocating.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(b []byte) (int, error) {
	n := copy(b, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

func encodePieces(b *testing.B, n int) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	block := pattern(BlockSize, 0)
	for i := range n {
		if err := w.WriteMessage(Message{ID: Piece, Index: uint32(i), Begin: 0, Block: block}); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkReadPiece reads 16 KiB piece messages from memory: the codec's
// own cost, with one copy of each block out of the source.
func BenchmarkReadPiece(b *testing.B) {
	r := NewReader(&loopReader{data: encodePieces(b, 8)}, 100)
	b.SetBytes(BlockSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWritePiece writes 16 KiB piece messages to io.Discard.
func BenchmarkWritePiece(b *testing.B) {
	w := NewWriter(io.Discard)
	m := Message{ID: Piece, Index: 1, Begin: BlockSize, Block: pattern(BlockSize, 0)}
	b.SetBytes(BlockSize)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteMessage(m); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPipePiece sends 16 KiB piece messages from a Writer to a Reader
// through an io.Pipe, the two on different goroutines as on a connection.
func BenchmarkPipePiece(b *testing.B) {
	pr, pw := io.Pipe()
	m := Message{ID: Piece, Index: 1, Begin: BlockSize, Block: pattern(BlockSize, 0)}
	b.Cleanup(func() { pr.Close() }) // unblocks the writer if the reader fails
	r := NewReader(pr, 100)
	b.SetBytes(BlockSize)
	b.ReportAllocs()
	b.ResetTimer()
	sent := goErr(func() error {
		w := NewWriter(pw)
		for range b.N {
			if err := w.WriteMessage(m); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		return pw.Close()
	})
	for range b.N {
		if _, err := r.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		b.Fatalf("after the last message: %v", err)
	}
	if err := <-sent; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkReadSmall reads a mix of the small messages that dominate a
// connection's message count.
func BenchmarkReadSmall(b *testing.B) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for i := range 64 {
		for _, m := range []Message{{ID: Have, Index: uint32(i)}, {ID: Request, Index: uint32(i), Length: BlockSize}, {ID: Unchoke}} {
			if err := w.WriteMessage(m); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	r := NewReader(&loopReader{data: buf.Bytes()}, 100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
