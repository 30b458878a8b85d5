package wire

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/btfs/btfs/internal/bitfield"
)

func TestReaderRejects(t *testing.T) {
	const n = 10 // pieces, so a bitfield has 2 bytes and 6 spare bits
	for _, tc := range []struct {
		name      string
		numPieces int
		in        []byte
		want      error
	}{
		{"huge length", n, []byte{0x7f, 0xff, 0xff, 0xff}, ErrMessageTooLong},
		{"max length", 0, []byte{0xff, 0xff, 0xff, 0xff, 7}, ErrMessageTooLong},
		{"just over the limit", n, raw(maxExtendedLen+1, Extended), ErrMessageTooLong},
		{"over the unknown-bitfield limit", 0, raw(maxUnknownBitfield+2, Bitfield), ErrMessageTooLong},

		{"choke with a body", n, raw(-1, Choke, []byte{0}), ErrBadLength},
		{"interested with a body", n, raw(-1, Interested, u32(1)), ErrBadLength},
		{"short have", n, raw(-1, Have, []byte{0, 0, 1}), ErrBadLength},
		{"long have", n, raw(-1, Have, u32(1), []byte{0}), ErrBadLength},
		{"short request", n, raw(-1, Request, u32(1, 0)), ErrBadLength},
		{"long request", n, raw(-1, Request, u32(1, 0, 1, 0)), ErrBadLength},
		{"long cancel", n, raw(-1, Cancel, u32(1, 0, 1), []byte{0}), ErrBadLength},
		{"short port", n, raw(-1, Port, []byte{1}), ErrBadLength},
		{"long port", n, raw(-1, Port, u32(1)), ErrBadLength},
		{"piece without block", n, raw(-1, Piece, u32(1, 0)), ErrBadLength},
		{"piece without begin", n, raw(-1, Piece, u32(1)), ErrBadLength},
		{"piece over BlockSize", n, raw(-1, Piece, u32(1, 0), make([]byte, BlockSize+1)), ErrBadLength},
		{"piece over BlockSize, count unknown", 0, raw(-1, Piece, u32(1, 0), make([]byte, BlockSize+1)), ErrBadLength},
		{"extended without id", n, raw(-1, Extended), ErrBadLength},
		{"extended too long, count unknown", 0, raw(maxExtendedLen+1, Extended), ErrBadLength},

		{"short bitfield", n, raw(-1, Bitfield, []byte{0xff}), ErrBadBitfield},
		{"long bitfield", n, raw(-1, Bitfield, []byte{0xff, 0xc0, 0}), ErrBadBitfield},
		{"spare bits", n, raw(-1, Bitfield, []byte{0xff, 0xe0}), bitfield.ErrSpareBits},
		{"spare bits", n, raw(-1, Bitfield, []byte{0xff, 0x01}), ErrBadBitfield},
		{"empty bitfield, count unknown", 0, raw(-1, Bitfield), ErrBadBitfield},

		{"request for 0 bytes", n, raw(-1, Request, u32(1, 0, 0)), ErrBadRequest},
		{"request over BlockSize", n, raw(-1, Request, u32(1, 0, BlockSize+1)), ErrBadRequest},
		{"request over BlockSize, count unknown", 0, raw(-1, Request, u32(1, 0, 1<<20)), ErrBadRequest},
		{"cancel for 0 bytes", n, raw(-1, Cancel, u32(1, 0, 0)), ErrBadRequest},

		{"have past the end", n, raw(-1, Have, u32(n)), ErrBadIndex},
		{"have far past the end", n, raw(-1, Have, u32(1<<32-1)), ErrBadIndex},
		{"request past the end", n, raw(-1, Request, u32(n, 0, BlockSize)), ErrBadIndex},
		{"cancel past the end", n, raw(-1, Cancel, u32(n, 0, BlockSize)), ErrBadIndex},
		{"piece past the end", n, raw(-1, Piece, u32(n, 0), []byte{1}), ErrBadIndex},

		{"cut in length", n, []byte{0, 0}, io.ErrUnexpectedEOF},
		{"cut before id", n, []byte{0, 0, 0, 5}, io.ErrUnexpectedEOF},
		{"cut in have", n, raw(5, Have, []byte{0, 0}), io.ErrUnexpectedEOF},
		{"cut before request body", n, raw(13, Request), io.ErrUnexpectedEOF},
		{"cut in piece", n, raw(9+BlockSize, Piece, u32(1, 0), make([]byte, 100)), io.ErrUnexpectedEOF},
		{"cut in unknown message", n, raw(100, 17, []byte("abc")), io.ErrUnexpectedEOF},
		{"cut before unknown body", n, raw(100, 17), io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewReader(bytes.NewReader(tc.in), tc.numPieces).ReadMessage()
			if !errors.Is(err, tc.want) {
				t.Fatalf("read %+v, %v; want %v", m, err, tc.want)
			}
			if !sameMessage(m, Message{}) {
				t.Fatalf("error %v came with message %+v", err, m)
			}
		})
	}
}

// TestReaderAccepts covers inputs at the edges of the limits, and the
// checks that wait for the piece count.
func TestReaderAccepts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		numPieces int
		in        []byte
		want      Message
	}{
		{"keep-alive", 1, []byte{0, 0, 0, 0}, Message{KeepAlive: true}},
		{"last piece", 10, raw(-1, Have, u32(9)), Message{ID: Have, Index: 9}},
		{"have, count unknown", 0, raw(-1, Have, u32(1<<32-1)), Message{ID: Have, Index: 1<<32 - 1}},
		{"bitfield, count unknown", 0, raw(-1, Bitfield, []byte{1, 2, 3}), Message{ID: Bitfield, Bitfield: []byte{1, 2, 3}}},
		{"full bitfield", 10, raw(-1, Bitfield, []byte{0xff, 0xc0}), Message{ID: Bitfield, Bitfield: []byte{0xff, 0xc0}}},
		{"bitfield, whole bytes", 16, raw(-1, Bitfield, []byte{0xff, 0xff}), Message{ID: Bitfield, Bitfield: []byte{0xff, 0xff}}},
		{"request of BlockSize", 10, raw(-1, Request, u32(9, 1<<30, BlockSize)), Message{ID: Request, Index: 9, Begin: 1 << 30, Length: BlockSize}},
		{"request of 1 byte", 10, raw(-1, Cancel, u32(0, 7, 1)), Message{ID: Cancel, Begin: 7, Length: 1}},
		{"piece, count unknown", 0, raw(-1, Piece, u32(1e9, 1), []byte{5}), Message{ID: Piece, Index: 1e9, Begin: 1, Length: 1, Block: []byte{5}}},
		{"port 0", 10, raw(-1, Port, u16(0)), Message{ID: Port}},
		{"extended, empty payload", 10, raw(-1, Extended, []byte{9}), Message{ID: Extended, ExtendedID: 9}},
		{"longest extended", 10, raw(-1, Extended, []byte{1}, make([]byte, MaxExtendedPayload)), Message{ID: Extended, ExtendedID: 1, Payload: make([]byte, MaxExtendedPayload)}},
		{"fast extension have-all", 10, raw(-1, 14), Message{ID: 14}},
		{"unknown with body", 10, raw(-1, 200, make([]byte, 1000)), Message{ID: 200}},
		{"largest unknown", 10, raw(maxExtendedLen, 21, make([]byte, maxExtendedLen-1)), Message{ID: 21}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Follow with a message, to check the first was read exactly.
			in := append(bytes.Clone(tc.in), raw(-1, Unchoke)...)
			r := NewReader(bytes.NewReader(in), tc.numPieces)
			m, err := r.ReadMessage()
			if err != nil || !sameMessage(m, tc.want) {
				t.Fatalf("read %+v, %v; want %+v", m, err, tc.want)
			}
			if m, err := r.ReadMessage(); err != nil || m.ID != Unchoke {
				t.Fatalf("next message: %+v, %v", m, err)
			}
			if _, err := r.ReadMessage(); err != io.EOF {
				t.Fatalf("at the end: %v, want io.EOF", err)
			}
		})
	}
}

func TestLargeBitfield(t *testing.T) {
	const n = 1_000_000 // a bitfield longer than the message buffer
	bf := bitfield.New(n)
	bf.SetAll()
	in := raw(-1, Bitfield, bf.Bytes())
	for _, numPieces := range []int{0, n} {
		r := NewReader(bytes.NewReader(in), numPieces)
		m, err := r.ReadMessage()
		if err != nil || !bytes.Equal(m.Bitfield, bf.Bytes()) {
			t.Fatalf("numPieces %d: %v", numPieces, err)
		}
		if cap(r.buf) > msgBufLen {
			t.Fatalf("numPieces %d: the message buffer grew to %d bytes for good", numPieces, cap(r.buf))
		}
	}
	if _, err := NewReader(bytes.NewReader(in), n+8).ReadMessage(); !errors.Is(err, ErrBadBitfield) {
		t.Fatalf("bitfield for the wrong count: %v", err)
	}
}

func TestSetNumPieces(t *testing.T) {
	in := append(raw(-1, Have, u32(5)), raw(-1, Have, u32(5))...)
	r := NewReader(bytes.NewReader(in), 0)
	if _, err := r.ReadMessage(); err != nil {
		t.Fatalf("before the count is known: %v", err)
	}
	r.SetNumPieces(5)
	if _, err := r.ReadMessage(); !errors.Is(err, ErrBadIndex) {
		t.Fatalf("after: %v, want %v", err, ErrBadIndex)
	}
}

// TestTooLongReadsNothing checks that an oversized length prefix is refused
// from the prefix alone: the body is never read, and nothing near its size
// is allocated.
func TestTooLongReadsNothing(t *testing.T) {
	prefix := []byte{0x7f, 0xff, 0xff, 0xff}
	r := NewReader(nil, 100)
	src := &prefixThenFail{t: t}
	const runs = 100
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		src.prefix = bytes.NewReader(prefix)
		r.br.Reset(src)
		if _, err := r.ReadMessage(); !errors.Is(err, ErrMessageTooLong) {
			t.Fatalf("got %v, want %v", err, ErrMessageTooLong)
		}
	}
	runtime.ReadMemStats(&after)
	if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > 1024 {
		t.Errorf("refusing the message allocated %d bytes", perRun)
	}
	if r.buf != nil {
		t.Errorf("the message buffer was allocated")
	}
}

// prefixThenFail yields prefix, then fails the test if read further.
type prefixThenFail struct {
	t      *testing.T
	prefix io.Reader
}

func (p *prefixThenFail) Read(b []byte) (int, error) {
	if n, _ := p.prefix.Read(b); n > 0 {
		return n, nil
	}
	p.t.Error("read past the length prefix")
	return 0, io.ErrUnexpectedEOF
}

// TestReaderAllocs checks the steady state: after the first message that
// needs the buffer, reading costs no allocation.
func TestReaderAllocs(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, m := range []Message{
		{ID: Piece, Index: 1, Block: pattern(BlockSize, 0)},
		{ID: Have, Index: 2},
		{ID: Request, Index: 3, Length: BlockSize},
		{ID: Extended, ExtendedID: 1, Payload: []byte("d1:ai1ee")},
		{ID: 15},
	} {
		if m.ID.Known() {
			if err := w.WriteMessage(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	buf.Write(raw(-1, 15, []byte("skip me")))
	stream := buf.Bytes()
	src := bytes.NewReader(stream)
	r := NewReader(src, 10)
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(stream)
		r.br.Reset(src)
		for {
			if _, err := r.ReadMessage(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per pass over %d messages", allocs, 5)
	}
}

// ReadBlocksInto puts a piece's block in the caller's buffer, checked like
// any other piece message; other messages are unaffected.
func TestReadBlocksInto(t *testing.T) {
	var stream bytes.Buffer
	w := NewWriter(&stream)
	block := bytes.Repeat([]byte{7}, BlockSize)
	for _, m := range []Message{
		{ID: Have, Index: 3},
		{ID: Piece, Index: 2, Begin: BlockSize, Block: block},
		{ID: Piece, Index: 9, Begin: 0, Block: block[:10]},
	} {
		if err := w.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&stream, 4)
	var given [][]byte
	r.ReadBlocksInto(func(n int) []byte {
		b := make([]byte, n)
		given = append(given, b)
		return b
	})
	if m, err := r.ReadMessage(); err != nil || m.ID != Have || m.Index != 3 {
		t.Fatalf("have: %+v, %v", m, err)
	}
	m, err := r.ReadMessage()
	if err != nil || m.ID != Piece || m.Index != 2 || m.Begin != BlockSize || m.Length != BlockSize || !bytes.Equal(m.Block, block) {
		t.Fatalf("piece: %+v, %v", m, err)
	}
	if len(given) != 1 || &given[0][0] != &m.Block[0] {
		t.Fatal("the block was not read into the caller's buffer")
	}
	if _, err := r.ReadMessage(); !errors.Is(err, ErrBadIndex) {
		t.Fatalf("piece 9 of a 4-piece torrent: %v, want ErrBadIndex", err)
	}
}
