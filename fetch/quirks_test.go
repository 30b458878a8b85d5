package fetch

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/bitfield"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

// Hand-driven peers, and regression tests for what real clients do that
// BEP 3 does not say (found by the interop tests in cmd/btfs).

// scripted is a hand-driven peer connected to a node: the test writes the
// messages and reads what the node answers.
type scripted struct {
	t  *testing.T
	id wire.PeerID
	c  net.Conn
	r  *wire.Reader
	w  *wire.Writer
	mi *metainfo.MetaInfo
	// theirs is the node's handshake.
	theirs wire.Handshake
}

// dialScripted connects to n from a loopback address of its own and
// exchanges handshakes, offering reserved.
func dialScripted(t *testing.T, n *node, mi *metainfo.MetaInfo, reserved [8]byte) *scripted {
	t.Helper()
	return dialScriptedFrom(t, n, mi, reserved, loopbackHost())
}

// dialScriptedFrom is dialScripted from the address ip.
func dialScriptedFrom(t *testing.T, n *node, mi *metainfo.MetaInfo, reserved [8]byte, ip netip.Addr) *scripted {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip.AsSlice()}}
	c, err := d.Dial("tcp", n.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	id := wire.NewPeerID("-SC0001-")
	if err := wire.WriteHandshake(c, wire.Handshake{Reserved: reserved, InfoHash: mi.InfoHash, PeerID: id}); err != nil {
		t.Fatal(err)
	}
	theirs, err := wire.ReadHandshake(c)
	if err != nil {
		t.Fatal(err)
	}
	return &scripted{t: t, id: id, c: c, r: wire.NewReader(c, mi.Info.NumPieces()), w: wire.NewWriter(c), mi: mi, theirs: theirs}
}

func (s *scripted) send(msgs ...wire.Message) {
	s.t.Helper()
	for _, m := range msgs {
		if err := s.w.WriteMessage(m); err != nil {
			s.t.Fatal(err)
		}
	}
	if err := s.w.Flush(); err != nil {
		s.t.Fatal(err)
	}
}

// expect reads until a message with the given ID arrives, and returns it
// (its Block copied). The connection's deadline bounds the wait.
func (s *scripted) expect(id wire.ID) wire.Message {
	s.t.Helper()
	for {
		m, err := s.r.ReadMessage()
		if err != nil {
			s.t.Fatalf("waiting for %s: %v (the node closed the connection?)", id, err)
		}
		if !m.KeepAlive && m.ID == id {
			m.Block = bytes.Clone(m.Block)
			return m
		}
	}
}

func bitfieldOf(n int, pieces ...int) []byte {
	bf := bitfield.New(n)
	for _, i := range pieces {
		bf.Set(i)
	}
	return bf.Bytes()
}

// aria2 skips the bitfield while it has no piece, sends HAVE for its first
// pieces, and then a bitfield anyway. A seeder used to drop it ("bad
// bitfield"), so aria2 could not download from btfs seed at all.
func TestLateBitfieldIsAccepted(t *testing.T) {
	mi, src := makeContent(t, 256<<10, 32<<10)
	seeder := startNode(t, mi, src, true, nil)
	p := dialScripted(t, seeder, mi, wire.DefaultReserved())
	n := mi.Info.NumPieces()
	p.send(
		wire.Message{ID: wire.Have, Index: 0},
		wire.Message{ID: wire.Bitfield, Bitfield: bitfieldOf(n, 0, 1)},
		wire.Message{ID: wire.Interested},
	)
	p.expect(wire.Unchoke)
	p.send(wire.Message{ID: wire.Request, Index: 2, Begin: 0, Length: wire.BlockSize})
	got := p.expect(wire.Piece)
	data, err := os.ReadFile(filepath.Join(src, "content.bin"))
	if err != nil {
		t.Fatal(err)
	}
	off := mi.Info.PieceOffset(2)
	if got.Index != 2 || got.Begin != 0 || !bytes.Equal(got.Block, data[off:off+wire.BlockSize]) {
		t.Fatalf("got piece %d+%d (%d bytes), not the block asked for", got.Index, got.Begin, len(got.Block))
	}
}
