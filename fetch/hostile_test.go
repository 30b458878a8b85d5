package fetch

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/bitfield"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

// fakePeer is a hand-written peer that claims every piece and answers
// requests however the test says (nil: never answers).
type fakePeer struct {
	addr     netip.AddrPort
	mu       sync.Mutex
	requests int
	conns    int
}

func startFakePeer(t *testing.T, mi *metainfo.MetaInfo, answer func(m wire.Message) []byte) *fakePeer {
	t.Helper()
	fp := &fakePeer{}
	fp.addr = newTestGroup(t).listen(t, loopbackHost(), func(c net.Conn) { // a host of its own
		fp.mu.Lock()
		fp.conns++
		fp.mu.Unlock()
		fp.serve(c, mi, answer)
	})
	return fp
}

// testGroup runs a test's goroutines: its context ends when the test
// does, and the test then waits for them.
type testGroup struct {
	ctx context.Context
	wg  sync.WaitGroup
}

func newTestGroup(t *testing.T) *testGroup {
	ctx, cancel := context.WithCancel(context.Background())
	g := &testGroup{ctx: ctx}
	t.Cleanup(func() { cancel(); g.wg.Wait() })
	return g
}

// listen accepts connections at ip on a free port until the test ends and
// serves each on a goroutine of its own; the connection is closed after
// serve returns, or when the test ends. It returns the address.
func (g *testGroup) listen(t *testing.T, ip netip.Addr, serve func(net.Conn)) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	context.AfterFunc(g.ctx, func() { ln.Close() })
	g.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			stop := context.AfterFunc(g.ctx, func() { c.Close() })
			g.wg.Go(func() {
				defer stop()
				defer c.Close()
				serve(c)
			})
		}
	})
	return netip.MustParseAddrPort(ln.Addr().String())
}

func (fp *fakePeer) serve(c net.Conn, mi *metainfo.MetaInfo, answer func(m wire.Message) []byte) {
	defer c.Close()
	if _, err := wire.ReadHandshake(c); err != nil {
		return
	}
	if err := wire.WriteHandshake(c, wire.Handshake{InfoHash: mi.InfoHash, PeerID: wire.NewPeerID("-FAKE00-")}); err != nil {
		return
	}
	w := wire.NewWriter(c)
	all := bitfield.New(mi.Info.NumPieces())
	all.SetAll()
	w.WriteMessage(wire.Message{ID: wire.Bitfield, Bitfield: all.Bytes()})
	w.WriteMessage(wire.Message{ID: wire.Unchoke})
	w.Flush()
	r := wire.NewReader(c, mi.Info.NumPieces())
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return
		}
		if m.ID != wire.Request || m.KeepAlive {
			continue
		}
		fp.mu.Lock()
		fp.requests++
		fp.mu.Unlock()
		if answer == nil {
			continue
		}
		if block := answer(m); block != nil {
			w.WriteMessage(wire.Message{ID: wire.Piece, Index: m.Index, Begin: m.Begin, Block: block})
			w.Flush()
		}
	}
}

func (fp *fakePeer) stats() (requests, conns int) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return fp.requests, fp.conns
}

// A peer sending wrong data is found out and banned, and the download still
// completes with the right bytes from the honest seeder.
func TestHostilePeerWrongDataIsBanned(t *testing.T) {
	mi, src := makeContent(t, 1<<20, 32<<10)
	liar := startFakePeer(t, mi, func(m wire.Message) []byte {
		b := make([]byte, m.Length)
		for i := range b {
			b[i] = 0xAB
		}
		return b
	})
	seeder := startNode(t, mi, src, true, nil)
	leecher := startNode(t, mi, t.TempDir(), false, nil)
	leecher.t.AddPeers(context.Background(), []netip.AddrPort{liar.addr})
	// Let the liar be the only source for a moment, so it poisons pieces.
	deadline := time.Now().Add(10 * time.Second)
	for n, _ := liar.stats(); n == 0; n, _ = liar.stats() {
		if time.Now().After(deadline) {
			t.Fatal("the liar was never asked for anything")
		}
		time.Sleep(10 * time.Millisecond)
	}
	leecher.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
	waitDone(t, leecher, 30*time.Second)
	sameFile(t, filepath.Join(src, "content.bin"), filepath.Join(leecher.dir, "content.bin"))
	if !bannedIP(t, leecher, liar.addr.Addr()) {
		t.Fatal("the peer that sent wrong data was not banned")
	}
}

// A peer that claims every piece but never sends must not stall a download.
func TestSilentPeerDoesNotStall(t *testing.T) {
	mi, src := makeContent(t, 1<<20, 32<<10)
	silent := startFakePeer(t, mi, nil)
	seeder := startNode(t, mi, src, true, nil)
	leecher := startNode(t, mi, t.TempDir(), false, func(c *Config) { c.SnubTimeout = 500 * time.Millisecond })
	leecher.t.AddPeers(context.Background(), []netip.AddrPort{silent.addr, seeder.addr})
	waitDone(t, leecher, 30*time.Second)
	sameFile(t, filepath.Join(src, "content.bin"), filepath.Join(leecher.dir, "content.bin"))
	if n, _ := silent.stats(); n == 0 {
		t.Fatal("the silent peer was never asked: the test proves nothing")
	}
}
