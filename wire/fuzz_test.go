package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/btfs/btfs/bencode"
)

// fuzzPieceCounts are the piece counts each fuzz input is read with:
// unknown, tiny, one spare bit, and ordinary.
var fuzzPieceCounts = []int{0, 1, 9, 1000}

// FuzzReadMessage reads arbitrary bytes as a message stream. Nothing may
// panic; every message read must be re-encoded by the Writer to exactly
// the frame it was read from; and reading that back must give the same
// message.
func FuzzReadMessage(f *testing.F) {
	// Seeds stay small (a 16 KiB block makes every mutation of it slow to
	// run and to minimise); the fuzzer grows them where that finds code.
	var seed bytes.Buffer
	w := NewWriter(&seed)
	for _, m := range oneOfEach() {
		m.Block = m.Block[:min(len(m.Block), 3)]
		m.Payload = m.Payload[:min(len(m.Payload), 30)]
		if err := w.WriteMessage(m); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Fatal(err)
	}
	f.Add(seed.Bytes())
	for _, s := range [][]byte{
		{}, {0, 0, 0, 0}, {0x7f, 0xff, 0xff, 0xff},
		raw(-1, Bitfield, []byte{0xff, 0x80}), raw(-1, Have, u32(8)), raw(-1, Request, u32(1, 0, BlockSize+1)),
		raw(-1, 14), raw(-1, 17, u32(3)), raw(5, Have, []byte{1}),
	} {
		f.Add(s)
	}
	c := newStreamChecker()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, numPieces := range fuzzPieceCounts {
			c.check(t, data, numPieces)
		}
	})
}

// streamChecker holds the Readers and Writer of FuzzReadMessage, reused
// from input to input (inputs run one at a time in a process): made anew,
// their buffers would cost more than the decoding under test.
type streamChecker struct {
	src, backSrc *bytes.Reader
	r, back      *Reader
	enc          bytes.Buffer
	w            *Writer
}

func newStreamChecker() *streamChecker {
	c := &streamChecker{src: bytes.NewReader(nil), backSrc: bytes.NewReader(nil)}
	c.r, c.back = NewReader(c.src, 0), NewReader(c.backSrc, 0)
	// The read-back takes the other path for blocks: both must agree.
	c.back.ReadBlocksInto(func(n int) []byte { return make([]byte, n) })
	c.w = NewWriter(&c.enc)
	return c
}

func (c *streamChecker) check(t *testing.T, data []byte, numPieces int) {
	c.src.Reset(data)
	c.r.br.Reset(c.src)
	c.r.SetNumPieces(numPieces)
	c.back.SetNumPieces(numPieces)
	for off := 0; ; {
		m, err := c.r.ReadMessage()
		if err == io.EOF {
			if off != len(data) {
				t.Fatalf("io.EOF at byte %d of %d", off, len(data))
			}
			return
		}
		if err != nil {
			return
		}
		frame := data[off : off+4+int(binary.BigEndian.Uint32(data[off:]))]
		off += len(frame)
		if !m.KeepAlive && !m.ID.Known() {
			continue
		}
		c.enc.Reset()
		if err := c.w.WriteMessage(m); err != nil {
			t.Fatalf("numPieces %d: read %+v, which the Writer refuses: %v", numPieces, m, err)
		}
		if err := c.w.Flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.enc.Bytes(), frame) {
			t.Fatalf("numPieces %d: frame %x re-encodes as %x", numPieces, frame, c.enc.Bytes())
		}
		m = cloneMessage(m)
		c.backSrc.Reset(c.enc.Bytes())
		c.back.br.Reset(c.backSrc)
		again, err := c.back.ReadMessage()
		if err != nil || !sameMessage(again, m) {
			t.Fatalf("numPieces %d: %+v reads back as %+v, %v", numPieces, m, again, err)
		}
	}
}

// FuzzExtendedHandshake parses arbitrary payloads. Nothing may panic; a
// handshake parsed must encode (canonically), and parse back the same.
func FuzzExtendedHandshake(f *testing.F) {
	for _, s := range []string{
		"d1:md11:ut_metadatai3e6:ut_pexi1ee13:metadata_sizei31337e1:pi6881e4:reqqi250e1:v8:btfs 0.16:yourip4:\x7f\x00\x00\x01e",
		"de", "d1:mdee", "d1:v3:abc1:md1:bi2e1:ai1eee", "d1:mli1ee1:pi2ee", "d1:md1:ai-1e1:bi256eee",
		"d13:metadata_sizei9223372036854775807ee", "d1:pi1eeXYZ", "le", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		h, err := ParseExtendedHandshake(payload)
		if err != nil {
			if !errors.Is(err, ErrBadExtendedHandshake) {
				t.Fatalf("error %v is not ErrBadExtendedHandshake", err)
			}
			return
		}
		b, err := h.Encode()
		if err != nil {
			t.Fatalf("parsed %+v, which does not encode: %v", h, err)
		}
		if _, err := bencode.Parse(b); err != nil {
			t.Fatalf("encoding %q is not canonical: %v", b, err)
		}
		again, err := ParseExtendedHandshake(b)
		if err != nil || !sameExtended(again, h) {
			t.Fatalf("%+v encodes as %q, which parses as %+v, %v", h, b, again, err)
		}
	})
}
