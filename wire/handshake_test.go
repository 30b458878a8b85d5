package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/btfs/btfs/metainfo"
)

func testHash(n byte) metainfo.Hash {
	var h metainfo.Hash
	for i := range h {
		h[i] = n + byte(i)
	}
	return h
}

// TestHandshakeBothWays runs the two sides of a connection as they happen:
// the dialer sends its whole handshake and reads the answer; the acceptor
// reads up to the info-hash, checks it, answers, then reads the peer id.
func TestHandshakeBothWays(t *testing.T) {
	dialer, acceptor := pipe(t)
	ih := testHash(1)
	out := Handshake{Reserved: DefaultReserved(), InfoHash: ih, PeerID: NewPeerID("-BT0001-")}
	in := Handshake{InfoHash: ih, PeerID: NewPeerID("-XX0002-")}
	in.Reserved[dhtByte] |= dhtBit

	// net.Pipe has no buffer, so each side writes from its own goroutine
	// while it reads, as a TCP socket's buffer would let it.
	dialed := goErr(func() error { return WriteHandshake(dialer, out) })
	reserved, gotHash, err := ReadHandshakeStart(acceptor)
	if err != nil {
		t.Fatal(err)
	}
	if gotHash != ih || reserved != out.Reserved {
		t.Fatalf("acceptor read hash %s reserved %x, want %s %x", gotHash, reserved, ih, out.Reserved)
	}
	accepted := goErr(func() error { return WriteHandshake(acceptor, in) })
	id, err := ReadPeerID(acceptor)
	if err != nil || id != out.PeerID {
		t.Fatalf("acceptor read peer id %s, %v; want %s", id, err, out.PeerID)
	}
	got, err := ReadHandshake(dialer)
	if err != nil || got != in {
		t.Fatalf("dialer read %+v, %v; want %+v", got, err, in)
	}
	for _, ch := range []<-chan error{dialed, accepted} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if !got.SupportsDHT() || got.SupportsExtensions() {
		t.Errorf("reserved %x: DHT %v extensions %v, want true false", got.Reserved, got.SupportsDHT(), got.SupportsExtensions())
	}
	if h := (Handshake{Reserved: DefaultReserved()}); !h.SupportsExtensions() || h.SupportsDHT() {
		t.Errorf("DefaultReserved %x: want the extension bit only", h.Reserved)
	}
	if h := (Handshake{Reserved: WithDHT(DefaultReserved())}); !h.SupportsExtensions() || !h.SupportsDHT() {
		t.Errorf("WithDHT(DefaultReserved()) %x: want the extension and DHT bits", h.Reserved)
	}
}

func TestHandshakeWireFormat(t *testing.T) {
	var buf bytes.Buffer
	h := Handshake{Reserved: DefaultReserved(), InfoHash: testHash(7), PeerID: NewPeerID("-BT0001-")}
	if err := WriteHandshake(&buf, h); err != nil {
		t.Fatal(err)
	}
	want := "\x13BitTorrent protocol\x00\x00\x00\x00\x00\x10\x00\x00" + string(h.InfoHash[:]) + string(h.PeerID[:])
	if buf.String() != want {
		t.Fatalf("wrote %q\nwant  %q", buf.Bytes(), want)
	}
	// ReadHandshakeStart and ReadPeerID read exactly the handshake: what
	// follows is left for a message Reader.
	buf.WriteString("\x00\x00\x00\x01\x02")
	if _, err := ReadHandshake(&buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "\x00\x00\x00\x01\x02" {
		t.Fatalf("handshake read too far: %q left", buf.Bytes())
	}
}

func TestHandshakeRejects(t *testing.T) {
	good := "\x13BitTorrent protocol" + strings.Repeat("\x00", 8+20+20)
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"empty", "", io.EOF},
		{"http", "GET /announce HTTP/1.1\r\nHost: x\r\n\r\n", ErrBadProtocol},
		{"wrong string", "\x13BitTorrent protocoX" + good[20:], ErrBadProtocol},
		{"wrong length byte", "\x14BitTorrent protocol" + good[20:], ErrBadProtocol},
		{"encrypted", "\x8f\x12\xaa\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12", ErrBadProtocol},
		{"cut in header", good[:10], io.ErrUnexpectedEOF},
		{"cut after header", good[:20], io.ErrUnexpectedEOF},
		{"cut in hash", good[:40], io.ErrUnexpectedEOF},
		{"cut before peer id", good[:48], io.ErrUnexpectedEOF},
		{"cut in peer id", good[:60], io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadHandshake(strings.NewReader(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.want == io.EOF && errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("clean end reported as %v", err)
			}
		})
	}
}

func TestNewPeerID(t *testing.T) {
	a, b := NewPeerID("-BT0001-"), NewPeerID("-BT0001-")
	if string(a[:8]) != "-BT0001-" || a == b {
		t.Fatalf("ids %s and %s: want the prefix and different random parts", a, b)
	}
	long := NewPeerID(strings.Repeat("x", 30))
	if string(long[:]) != strings.Repeat("x", 20) {
		t.Fatalf("long prefix gave %s", long)
	}
	var id PeerID
	copy(id[:], "-BT0001-\x00\xff")
	if got, want := id.String(), `"-BT0001-\x00\xff\x00`; !strings.HasPrefix(got, want) {
		t.Fatalf("String() = %s, want prefix %s", got, want)
	}
}
