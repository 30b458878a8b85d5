package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// oneOfEach has a message of every ID the codec knows, and a keep-alive.
func oneOfEach() []Message {
	return []Message{
		{KeepAlive: true},
		{ID: Choke},
		{ID: Unchoke},
		{ID: Interested},
		{ID: NotInterested},
		{ID: Have, Index: 41},
		{ID: Bitfield, Bitfield: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xa0}}, // 43 pieces
		{ID: Request, Index: 3, Begin: 2 * BlockSize, Length: BlockSize},
		{ID: Piece, Index: 3, Begin: 2 * BlockSize, Length: BlockSize, Block: pattern(BlockSize, 1)},
		{ID: Piece, Index: 42, Begin: 5, Length: 1, Block: []byte{9}},
		{ID: Cancel, Index: 3, Begin: 2 * BlockSize, Length: 100},
		{ID: Port, Port: 6881},
		{ID: Extended, ExtendedID: ExtendedHandshakeID, Payload: []byte("d1:md11:ut_metadatai3eee")},
		{ID: Extended, ExtendedID: 3, Payload: append([]byte("d8:msg_typei1e5:piecei0e10:total_sizei20000ee"), pattern(BlockSize, 2)...)},
		{ID: Extended, ExtendedID: 7},
	}
}

const testPieces = 43

func TestMessageWireFormat(t *testing.T) {
	for _, tc := range []struct {
		m    Message
		want []byte
	}{
		{Message{KeepAlive: true, ID: Piece}, []byte{0, 0, 0, 0}},
		{Message{ID: Choke}, raw(-1, Choke)},
		{Message{ID: NotInterested, Index: 9}, raw(-1, NotInterested)},
		{Message{ID: Have, Index: 0x01020304}, raw(-1, Have, []byte{1, 2, 3, 4})},
		{Message{ID: Request, Index: 1, Begin: 2, Length: 3}, raw(-1, Request, u32(1, 2, 3))},
		{Message{ID: Piece, Index: 1, Begin: 2, Length: 999, Block: []byte("abc")}, raw(-1, Piece, u32(1, 2), []byte("abc"))},
		{Message{ID: Port, Port: 0x1ae1}, raw(-1, Port, []byte{0x1a, 0xe1})},
		{Message{ID: Extended, ExtendedID: 2, Payload: []byte("de")}, raw(-1, Extended, []byte("\x02de"))},
	} {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		if err := w.WriteMessage(tc.m); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), tc.want) {
			t.Errorf("%s: wrote %x, want %x", tc.m.ID, buf.Bytes(), tc.want)
		}
	}
}

// TestRoundTrip sends one message of each ID over a net.Pipe and reads them
// back, with the piece count known and not.
func TestRoundTrip(t *testing.T) {
	for _, numPieces := range []int{0, testPieces} {
		a, b := pipe(t)
		msgs := oneOfEach()
		sent := goErr(func() error {
			w := NewWriter(a)
			for _, m := range msgs {
				if err := w.WriteMessage(m); err != nil {
					return err
				}
			}
			if err := w.Flush(); err != nil {
				return err
			}
			return a.Close()
		})
		r := NewReader(b, numPieces)
		for _, want := range msgs {
			got, err := r.ReadMessage()
			if err != nil {
				t.Fatalf("numPieces %d: reading %s: %v", numPieces, want.ID, err)
			}
			if !sameMessage(got, want) {
				t.Errorf("numPieces %d: read %+v\nwant %+v", numPieces, got, want)
			}
		}
		if _, err := r.ReadMessage(); err != io.EOF {
			t.Fatalf("after the last message: %v, want io.EOF", err)
		}
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
	}
}

// TestStream sends many messages, unknown ones and a piece among them, and
// checks each one arrives intact and in order.
func TestStream(t *testing.T) {
	a, b := pipe(t)
	var msgs []Message
	for i := range 500 {
		msgs = append(msgs, Message{ID: Have, Index: uint32(i % testPieces)},
			Message{ID: Request, Index: uint32(i % testPieces), Begin: uint32(i) * BlockSize, Length: BlockSize})
		if i%50 == 25 {
			msgs = append(msgs, Message{KeepAlive: true},
				Message{ID: Piece, Index: uint32(i % testPieces), Begin: BlockSize, Length: BlockSize, Block: pattern(BlockSize, i)},
				Message{ID: 14}, // BEP 6 have-all: skipped by the Reader
				Message{ID: Unchoke})
		}
	}
	sent := goErr(func() error {
		w := NewWriter(a)
		for _, m := range msgs {
			if !m.ID.Known() && !m.KeepAlive {
				// The Writer refuses IDs it does not know: write the
				// frame by hand, with a body the Reader must skip.
				if err := w.Flush(); err != nil {
					return err
				}
				if _, err := a.Write(raw(-1, m.ID, []byte("ignored body"))); err != nil {
					return err
				}
				continue
			}
			if err := w.WriteMessage(m); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		return a.Close()
	})
	r := NewReader(b, testPieces)
	for i, want := range msgs {
		got, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("message %d (%s): %v", i, want.ID, err)
		}
		if !sameMessage(got, want) {
			t.Fatalf("message %d: read %+v\nwant %+v", i, got, want)
		}
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

func TestWriterRefuses(t *testing.T) {
	for _, tc := range []struct {
		m    Message
		want error
	}{
		{Message{ID: Request, Length: 0}, ErrBadRequest},
		{Message{ID: Request, Length: BlockSize + 1}, ErrBadRequest},
		{Message{ID: Cancel, Length: 0}, ErrBadRequest},
		{Message{ID: Piece}, ErrBadLength},
		{Message{ID: Piece, Block: make([]byte, BlockSize+1)}, ErrBadLength},
		{Message{ID: Bitfield}, ErrBadBitfield},
		{Message{ID: Extended, Payload: make([]byte, MaxExtendedPayload+1)}, ErrMessageTooLong},
		{Message{ID: 13}, ErrUnknownMessage},
		{Message{ID: 255}, ErrUnknownMessage},
	} {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		if err := w.WriteMessage(tc.m); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.m.ID, err, tc.want)
		}
		if w.Flush(); buf.Len() != 0 {
			t.Errorf("%s: refused message wrote %x", tc.m.ID, buf.Bytes())
		}
	}
}

// TestWriterErrors checks that a failing connection's error comes back
// wrapped, from the write that fills the buffer or from Flush.
func TestWriterErrors(t *testing.T) {
	boom := errors.New("connection reset")
	w := NewWriter(failWriter{boom})
	if err := w.WriteMessage(Message{ID: Have}); err != nil {
		t.Fatalf("buffered write failed early: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush: %v, want %v", err, boom)
	}
	w = NewWriter(failWriter{boom})
	var err error
	for i := 0; err == nil && i < 10; i++ {
		err = w.WriteMessage(Message{ID: Piece, Block: make([]byte, BlockSize)})
	}
	if !errors.Is(err, boom) {
		t.Fatalf("WriteMessage: %v, want %v", err, boom)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestIDString(t *testing.T) {
	for id, want := range map[ID]string{Choke: "choke", NotInterested: "not interested", Port: "port",
		Extended: "extended", 13: "unknown(13)", 10: "unknown(10)", 255: "unknown(255)"} {
		if got := id.String(); got != want {
			t.Errorf("ID(%d).String() = %q, want %q", uint8(id), got, want)
		}
	}
}

// TestReaderAfterHandshake checks the usual sequence on one connection: a
// handshake read straight from it, then a Reader on the rest.
func TestReaderAfterHandshake(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHandshake(&buf, Handshake{InfoHash: testHash(3)}); err != nil {
		t.Fatal(err)
	}
	w := NewWriter(&buf)
	if err := w.WriteMessage(Message{ID: Have, Index: 2}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(&buf)
	if _, err := ReadHandshake(br); err != nil {
		t.Fatal(err)
	}
	m, err := NewReader(br, 3).ReadMessage()
	if err != nil || m.ID != Have || m.Index != 2 {
		t.Fatalf("read %+v, %v", m, err)
	}
}
