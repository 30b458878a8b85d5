package fetch

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/wait"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

// handshakeAnswered reports whether n answers a handshake from ip.
func handshakeAnswered(t *testing.T, n *node, mi *metainfo.MetaInfo, ip netip.Addr) bool {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip.AsSlice()}}
	c, err := d.Dial("tcp", n.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := wire.WriteHandshake(c, wire.Handshake{InfoHash: mi.InfoHash, PeerID: wire.NewPeerID("-SC0001-")}); err != nil {
		return false
	}
	_, err = wire.ReadHandshake(c)
	return err == nil
}

func stats(t *testing.T, n *node) Stats {
	t.Helper()
	s, err := n.t.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// serveBlock answers the request m with the right data.
func (s *scripted) serveBlock(data []byte, m wire.Message) {
	s.t.Helper()
	off := s.mi.Info.PieceOffset(int(m.Index)) + int64(m.Begin)
	s.send(wire.Message{ID: wire.Piece, Index: m.Index, Begin: m.Begin, Block: data[off : off+int64(m.Length)]})
}

// A piece that mixes a liar's block with an honest peer's fails, and both
// go on parole; its next copy, from one of them alone, settles it: from the
// honest peer, it passes and its blocks name the liar (smart ban); from
// the liar, it fails with one sender. Either way the liar alone is banned.
func TestMixedFailureBansOnlyTheLiar(t *testing.T) {
	for _, refetcher := range []string{"honest", "liar"} {
		t.Run(refetcher, func(t *testing.T) {
			mi, src := makeContent(t, 32<<10, 32<<10) // one piece of two blocks
			data, err := os.ReadFile(filepath.Join(src, "content.bin"))
			if err != nil {
				t.Fatal(err)
			}
			leecher := startNode(t, mi, t.TempDir(), false, nil)
			all := bitfieldOf(mi.Info.NumPieces(), 0)
			var liar, honest *scripted
			for _, p := range []**scripted{&liar, &honest} { // both asked for both blocks
				*p = dialScripted(t, leecher, mi, wire.DefaultReserved())
				(*p).send(wire.Message{ID: wire.Bitfield, Bitfield: all}, wire.Message{ID: wire.Unchoke})
				(*p).expect(wire.Request)
				(*p).expect(wire.Request)
			}
			junk := make([]byte, wire.BlockSize)
			choked := func(p *scripted) {
				p.send(wire.Message{ID: wire.Choke})
				viewOf(t, leecher, p.id, "the choke", func(q *peer) bool { return q.peerChoking })
			}
			// The one that is not to fetch the piece again chokes us
			// after its block, before the piece completes.
			if refetcher == "honest" {
				liar.send(wire.Message{ID: wire.Piece, Index: 0, Begin: 0, Block: junk})
				choked(liar)
				honest.send(wire.Message{ID: wire.Piece, Index: 0, Begin: wire.BlockSize, Block: data[wire.BlockSize:]})
			} else {
				honest.send(wire.Message{ID: wire.Piece, Index: 0, Begin: wire.BlockSize, Block: data[wire.BlockSize:]})
				choked(honest)
				liar.send(wire.Message{ID: wire.Piece, Index: 0, Begin: 0, Block: junk})
				// Parole: the liar is asked for the whole piece, and lies.
				for range 2 {
					m := liar.expect(wire.Request)
					liar.send(wire.Message{ID: wire.Piece, Index: 0, Begin: m.Begin, Block: junk[:m.Length]})
				}
				wait.For(t, "the liar's ban", 10*time.Second, func() bool { return bannedIP(t, leecher, ipOfConn(liar)) })
				honest.send(wire.Message{ID: wire.Unchoke})
			}
			for range 2 {
				honest.serveBlock(data, honest.expect(wire.Request))
			}
			waitDone(t, leecher, 10*time.Second)
			wait.For(t, "the liar's ban", 10*time.Second, func() bool { return bannedIP(t, leecher, ipOfConn(liar)) })
			if bannedIP(t, leecher, ipOfConn(honest)) {
				t.Fatal("the honest peer was banned")
			}
			if s := stats(t, leecher); s.Failed != 1+boolInt(refetcher == "liar") || s.Banned != 1 {
				t.Fatalf("%d pieces failed, %d addresses banned", s.Failed, s.Banned)
			}
		})
	}
}

func ipOfConn(s *scripted) netip.Addr {
	return ipOf(netip.MustParseAddrPort(s.c.LocalAddr().String()))
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Blocks we never asked for count against the sender's address: past the
// limit it is banned, and a new connection from it is refused before the
// node says a word, whatever its port.
func TestUnrequestedBlocksBanTheAddress(t *testing.T) {
	mi, _ := makeContent(t, 64<<10, 32<<10)
	leecher := startNode(t, mi, t.TempDir(), false, nil)
	p := dialScripted(t, leecher, mi, wire.DefaultReserved())
	ip := ipOfConn(p)
	block := make([]byte, wire.BlockSize)
	// No bitfield: the node asks it for nothing. The writes may fail once
	// the node has had enough.
	for range maxUnrequested + 1 {
		p.w.WriteMessage(wire.Message{ID: wire.Piece, Index: 0, Begin: 0, Block: block})
	}
	p.w.Flush()
	wait.For(t, "the flooder's ban", 10*time.Second, func() bool { return bannedIP(t, leecher, ip) })
	if handshakeAnswered(t, leecher, mi, ip) {
		t.Fatal("a banned address was answered from a new port")
	}
	if !handshakeAnswered(t, leecher, mi, loopbackHost()) {
		t.Fatal("another address was refused")
	}
	if s := stats(t, leecher); s.Refused != 1 || s.Discarded < int64(maxUnrequested*wire.BlockSize) {
		t.Fatalf("refused %d, discarded %d bytes", s.Refused, s.Discarded)
	}
}

// One address holds at most maxPeersPerIP connections; 127.0.0.1, where
// every local client is, holds more.
func TestConnectionsPerAddressLimited(t *testing.T) {
	mi, src := makeContent(t, 64<<10, 32<<10)
	seeder := startNode(t, mi, src, true, nil)
	for _, tc := range []struct {
		ip     netip.Addr
		closed int
	}{
		{loopbackHost(), 1},
		{netip.MustParseAddr("127.0.0.1"), 0},
	} {
		// Each connection is in the seeder's peers before the next is made:
		// under load the handshakes would otherwise be pending at once, and
		// the bound on pending handshakes per address (pending.go), not
		// the one on connections, would close one.
		var conns []*scripted
		for range maxPeersPerIP {
			before := stats(t, seeder).Peers
			conns = append(conns, dialScriptedFrom(t, seeder, mi, wire.DefaultReserved(), tc.ip))
			wait.For(t, "the connection to join the seeder's peers", 10*time.Second, func() bool { return stats(t, seeder).Peers == before+1 })
		}
		conns = append(conns, dialScriptedFrom(t, seeder, mi, wire.DefaultReserved(), tc.ip))
		if n := countClosed(conns, time.Second); n != tc.closed {
			t.Fatalf("%d of %d connections from %v closed, want %d", n, len(conns), tc.ip, tc.closed)
		}
	}
	if s := stats(t, seeder); s.Refused != 1 || s.Peers != 2*maxPeersPerIP+1 {
		t.Fatalf("refused %d, %d peers", s.Refused, s.Peers)
	}
}

// countClosed reads what each connection receives for a while, and counts
// those that the other end closes meanwhile.
func countClosed(conns []*scripted, within time.Duration) int {
	ends := make(chan bool, len(conns))
	for _, s := range conns {
		s.c.SetReadDeadline(time.Now().Add(within))
		go func() {
			for {
				if _, err := s.r.ReadMessage(); err != nil {
					var ne net.Error
					ends <- !errors.As(err, &ne) || !ne.Timeout()
					return
				}
			}
		}()
	}
	n := 0
	for range conns {
		if <-ends {
			n++
		}
	}
	return n
}
