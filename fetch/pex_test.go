package fetch

import (
	"context"
	"errors"
	"github.com/btfs/btfs/internal/wait"
	"io"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

// testPexID is the ID scripted peers ask ut_pex messages to be sent with:
// not ours, so that a mix-up shows.
const testPexID = 9

// fastPex makes a node look for peers due a PEX message every 50 ms.
func fastPex(c *Config) { c.PexInterval = 50 * time.Millisecond }

// dialExtendedPeer connects to n as a scripted peer offering reserved and,
// in its extension handshake, the extensions m and listening port port. It
// returns the peer, n's handshake and n's extension handshake.
func dialExtendedPeer(t *testing.T, n *node, mi *metainfo.MetaInfo, reserved [8]byte, m map[string]int, port int) (*scripted, wire.Handshake, wire.ExtendedHandshake) {
	t.Helper()
	s := dialScripted(t, n, mi, reserved)
	payload, err := wire.ExtendedHandshake{M: m, Port: port}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	s.send(wire.Message{ID: wire.Extended, ExtendedID: wire.ExtendedHandshakeID, Payload: payload})
	for {
		msg := s.expect(wire.Extended)
		if msg.ExtendedID != wire.ExtendedHandshakeID {
			continue
		}
		hs, err := wire.ParseExtendedHandshake(msg.Payload)
		if err != nil {
			t.Fatal(err)
		}
		return s, s.theirs, hs
	}
}

// expectPex reads until a ut_pex message comes (sent with testPexID).
func (s *scripted) expectPex() wire.PexMessage {
	s.t.Helper()
	for {
		msg := s.expect(wire.Extended)
		if msg.ExtendedID != testPexID {
			continue
		}
		m, err := wire.ParsePexMessage(msg.Payload)
		if err != nil {
			s.t.Fatal(err)
		}
		return m
	}
}

// connected reports whether n has a connection to the peer with id.
func connected(n *node, id wire.PeerID) bool {
	ok := false
	n.t.do(context.Background(), func() { ok = n.t.byID[id] != nil })
	return ok
}

// PEX between three engines: C knows only A, A is connected to the seeder
// B; C hears of B from A, connects to it and downloads everything (A, like
// an idle mount, wants and has nothing, so all of it comes from B).
func TestPexIntroducesPeers(t *testing.T) {
	mi, src := makeContent(t, 1<<20, 32<<10)
	b := startNode(t, mi, src, true, fastPex)
	a := startNode(t, mi, t.TempDir(), false, func(c *Config) { fastPex(c); c.WantAll = false })
	a.t.AddPeers(context.Background(), []netip.AddrPort{b.addr})
	wait.For(t, "A to connect to B", 10*time.Second, func() bool { return connected(a, b.t.cfg.PeerID) })

	c := startNode(t, mi, t.TempDir(), false, fastPex)
	c.t.AddPeers(context.Background(), []netip.AddrPort{a.addr})
	wait.For(t, "C to connect to B, which only PEX named", 10*time.Second, func() bool { return connected(c, b.t.cfg.PeerID) })
	waitDone(t, c, 30*time.Second)
}

// What a PEX message says: A dialed the seeder B (reachable, seed) and was
// dialed by D (which wants nothing, like an idle mount), which named its
// listening port (listed at that port, not flagged); the peer told is not listed to itself, and a peer that
// leaves is listed as dropped in a later message.
func TestPexMessageLists(t *testing.T) {
	mi, src := makeContent(t, 512<<10, 32<<10)
	b := startNode(t, mi, src, true, fastPex)
	a := startNode(t, mi, t.TempDir(), false, fastPex)
	a.t.AddPeers(context.Background(), []netip.AddrPort{b.addr})
	wait.For(t, "A to connect to B", 10*time.Second, func() bool { return connected(a, b.t.cfg.PeerID) })
	d := startNode(t, mi, t.TempDir(), false, func(c *Config) { fastPex(c); c.MaxPeers, c.WantAll = 1, false })
	d.t.AddPeers(context.Background(), []netip.AddrPort{a.addr})
	wait.For(t, "A to accept D", 10*time.Second, func() bool { return connected(a, d.t.cfg.PeerID) })

	x, _, hs := dialExtendedPeer(t, a, mi, wire.DefaultReserved(), map[string]int{wire.PexExtension: testPexID}, 0)
	if hs.M[wire.PexExtension] != pexLocalID {
		t.Fatalf("A's extension handshake offers %v, want ut_pex %d", hs.M, pexLocalID)
	}
	m := x.expectPex()
	got := map[netip.AddrPort]wire.PexFlags{}
	for _, p := range m.Added {
		got[p.Addr] = p.Flags
	}
	want := map[netip.AddrPort]wire.PexFlags{b.addr: wire.PexReachable | wire.PexSeed, d.addr: 0}
	if len(got) != len(want) || got[b.addr] != want[b.addr] || got[d.addr] != want[d.addr] {
		t.Fatalf("A's PEX message adds %v, want %v (B %v, D %v)", m.Added, want, b.addr, d.addr)
	}

	// The next message waits for wire.PexInterval: shorten the wait by
	// hand, as the minute passing would.
	a.t.do(context.Background(), func() {
		px, pd := a.t.byID[x.id], a.t.byID[d.t.cfg.PeerID]
		*px.pex = wire.PexState{Remote: px.pex.Remote}
		px.pex.Next(time.Now().Add(-wire.PexInterval), a.t.pexPeers()) // told of B and D a minute ago
		a.t.dropPeer(pd, errors.New("test: D leaves"))
	})
	m = x.expectPex()
	if len(m.Added) != 0 || !slices.Equal(m.Dropped, []netip.AddrPort{d.addr}) {
		t.Fatalf("after D left, A's PEX message adds %v and drops %v, want only %v dropped", m.Added, m.Dropped, d.addr)
	}
}

// Incoming ut_pex: the first message's peers become candidates; messages
// sooner than pexMinGap after it are ignored, and a peer that keeps sending
// them is dropped. A message that breaks BEP 11 drops the peer at once.
func TestPexIncomingLimits(t *testing.T) {
	mi, src := makeContent(t, 256<<10, 32<<10)
	seeder := startNode(t, mi, src, true, nil)
	candidates := func() []netip.AddrPort {
		var out []netip.AddrPort
		seeder.t.do(context.Background(), func() {
			for a := range seeder.t.book.m {
				out = append(out, a)
			}
		})
		return out
	}
	x, _, _ := dialExtendedPeer(t, seeder, mi, wire.DefaultReserved(), map[string]int{wire.PexExtension: testPexID}, 0)
	pexMsg := func(port uint16) wire.Message {
		payload, err := wire.PexMessage{Added: []wire.PexPeer{{Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)}}}.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return wire.Message{ID: wire.Extended, ExtendedID: pexLocalID, Payload: payload}
	}
	first := netip.MustParseAddrPort("127.0.0.1:9")
	x.send(pexMsg(9))
	wait.For(t, "the PEX peer to become a candidate", 10*time.Second, func() bool { return slices.Contains(candidates(), first) })
	x.send(pexMsg(10))
	time.Sleep(100 * time.Millisecond)
	if got := candidates(); len(got) != 1 {
		t.Fatalf("candidates after an early second message: %v, want only %v", got, first)
	}
	for i := range maxPexEarly {
		x.send(pexMsg(uint16(11 + i)))
	}
	x.expectClosed()
	if got := candidates(); len(got) != 1 {
		t.Fatalf("candidates after the flood: %v, want only %v", got, first)
	}

	y, _, _ := dialExtendedPeer(t, seeder, mi, wire.DefaultReserved(), map[string]int{wire.PexExtension: testPexID}, 0)
	y.send(wire.Message{ID: wire.Extended, ExtendedID: pexLocalID, Payload: []byte("d5:added5:12345e")})
	y.expectClosed()
}

// expectClosed reads until the node closes the connection.
func (s *scripted) expectClosed() {
	s.t.Helper()
	s.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, err := s.r.ReadMessage()
		if err == nil {
			continue
		}
		if !errors.Is(err, io.EOF) && !isReset(err) {
			s.t.Fatalf("waiting for the node to close the connection: %v", err)
		}
		return
	}
}
