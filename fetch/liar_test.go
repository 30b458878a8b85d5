package fetch

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/bitfield"
	"github.com/btfs/btfs/internal/wait"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

// liarRedial paces the liar's reconnections: fast enough to come back
// hundreds of times in a download, as the attack that was seen did.
const liarRedial = 10 * time.Millisecond

// liar is a hostile peer on a loopback address of its own. It has the
// content and serves it, except that every block of every third piece is
// wrong; each time one of its connections to the node ends it connects
// again, from a new port and with a new peer id, to escape a ban.
type liar struct {
	ip   netip.Addr
	addr netip.AddrPort // its listener, for the node to dial
	mi   *metainfo.MetaInfo
	data []byte

	mu       sync.Mutex
	dials    int   // connections it opened to the node
	answered int   // of those, the ones the node answered with its handshake
	asked    int   // requests received
	junk     int64 // bytes of wrong blocks written
}

func (l *liar) lies(piece uint32) bool { return piece%3 == 0 }

// startLiar starts the liar at ip: its listener, and loops that keep
// parallel connections open to target, until the test ends.
func startLiar(t *testing.T, ip string, mi *metainfo.MetaInfo, data []byte, target netip.AddrPort, parallel int) *liar {
	t.Helper()
	l := &liar{ip: netip.MustParseAddr(ip), mi: mi, data: data}
	g := newTestGroup(t)
	l.addr = g.listen(t, l.ip, func(c net.Conn) {
		if _, err := wire.ReadHandshake(c); err == nil && l.handshake(c) == nil {
			l.serve(c)
		}
	})
	for range parallel {
		g.wg.Go(func() { l.keepConnecting(g.ctx, target) })
	}
	return l
}

// keepConnecting connects to target, from a new port each time the last
// connection ends, until ctx ends.
func (l *liar) keepConnecting(ctx context.Context, target netip.AddrPort) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: l.ip.AsSlice()}} // port 0: a new one each time
	for ctx.Err() == nil {
		l.count(func() { l.dials++ })
		if c, err := d.DialContext(ctx, "tcp", target.String()); err == nil {
			l.visit(ctx, c)
		}
		select {
		case <-ctx.Done():
		case <-time.After(liarRedial):
		}
	}
}

// visit handshakes on a connection the liar opened and, if the node
// answers, serves it until it ends.
func (l *liar) visit(ctx context.Context, c net.Conn) {
	defer c.Close()
	defer context.AfterFunc(ctx, func() { c.Close() })()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if l.handshake(c) != nil {
		return
	}
	if _, err := wire.ReadHandshake(c); err != nil {
		return
	}
	l.count(func() { l.answered++ })
	c.SetDeadline(time.Time{})
	l.serve(c)
}

func (l *liar) count(f func()) {
	l.mu.Lock()
	f()
	l.mu.Unlock()
}

// handshake sends the liar's handshake with a new peer id.
func (l *liar) handshake(c net.Conn) error {
	return wire.WriteHandshake(c, wire.Handshake{InfoHash: l.mi.InfoHash, PeerID: wire.NewPeerID("-LIAR00-")})
}

// serve claims every piece, unchokes, and answers requests until the
// connection ends.
func (l *liar) serve(c net.Conn) {
	w := wire.NewWriter(c)
	all := bitfield.New(l.mi.Info.NumPieces())
	all.SetAll()
	w.WriteMessage(wire.Message{ID: wire.Bitfield, Bitfield: all.Bytes()})
	w.WriteMessage(wire.Message{ID: wire.Unchoke})
	if w.Flush() != nil {
		return
	}
	r := wire.NewReader(c, l.mi.Info.NumPieces())
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return
		}
		if m.KeepAlive || m.ID != wire.Request {
			continue
		}
		off := l.mi.Info.PieceOffset(int(m.Index)) + int64(m.Begin)
		if off < 0 || off+int64(m.Length) > int64(len(l.data)) {
			return
		}
		block := append([]byte(nil), l.data[off:off+int64(m.Length)]...)
		if l.lies(m.Index) {
			for i := range block {
				block[i] ^= 0x5A
			}
		}
		if w.WriteMessage(wire.Message{ID: wire.Piece, Index: m.Index, Begin: m.Begin, Block: block}) != nil || w.Flush() != nil {
			return
		}
		l.count(func() {
			l.asked++
			if l.lies(m.Index) {
				l.junk += int64(len(block))
			}
		})
	}
}

type liarStats struct {
	dials, answered, asked int
	junk                   int64
}

func (l *liar) stats() liarStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return liarStats{l.dials, l.answered, l.asked, l.junk}
}

// timeDownload downloads mi from seeder alone into a fresh leecher: the
// time the same transfer takes without an attacker.
func timeDownload(t *testing.T, mi *metainfo.MetaInfo, seeder *node) time.Duration {
	t.Helper()
	leecher := startNode(t, mi, t.TempDir(), false, nil)
	start := time.Now()
	leecher.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
	waitDone(t, leecher, 60*time.Second)
	return time.Since(start)
}

// A peer that sends wrong data and reconnects from new ports each time it
// is dropped, beside an honest seeder. Bans used to be by address and
// port: the liar came back hundreds of times, junk kept arriving, and the
// three-strike rule banned the honest seeder for pieces that mixed its
// blocks with the liar's. Now the liar's address is banned, its
// reconnections are refused, and the honest seeder keeps serving. Two
// shapes: the liar alone at first (it poisons whole pieces), and both from
// the start on a 32 MiB torrent in 256 KiB pieces (pieces mix more).
func TestLiarReconnectingIsBannedByAddress(t *testing.T) {
	for _, tc := range []struct {
		name              string
		size, pieceLength int
		liarFirst         bool
	}{
		{"liar first", 8 << 20, 128 << 10, true},
		{"together", 32 << 20, 256 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mi, src := makeContent(t, tc.size, int64(tc.pieceLength))
			data, err := os.ReadFile(filepath.Join(src, "content.bin"))
			if err != nil {
				t.Fatal(err)
			}
			seeder := startNodeOn(t, "127.0.0.7", mi, src, true, nil)
			base := timeDownload(t, mi, seeder)

			leecher := startNode(t, mi, t.TempDir(), false, nil)
			l := startLiar(t, "127.0.0.5", mi, data, leecher.addr, 2)
			start := time.Now()
			leecher.t.AddPeers(context.Background(), []netip.AddrPort{l.addr})
			if tc.liarFirst { // the liar alone for a moment, so that it poisons pieces
				wait.For(t, "the liar to be asked for blocks", 10*time.Second, func() bool { return l.stats().asked > 0 })
			}
			leecher.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
			waitDone(t, leecher, 60*time.Second)
			took := time.Since(start)
			sameFile(t, filepath.Join(src, "content.bin"), filepath.Join(leecher.dir, "content.bin"))
			checkLiarShutOut(t, leecher, l, tc.pieceLength)
			if limit := 3*base + 2*time.Second; took > limit {
				t.Errorf("the download took %v beside the liar, %v alone (limit %v)", took, base, limit)
			}
			t.Logf("download %v beside the liar, %v alone", took.Round(time.Millisecond), base.Round(time.Millisecond))
		})
	}
}

// checkLiarShutOut checks, once the download is over, that the liar's
// address is banned, that its reconnections keep being refused before the
// node says a word, that the honest seeder at 127.0.0.7 is not banned,
// and that the liar got away with little.
func checkLiarShutOut(t *testing.T, n *node, l *liar, pieceLength int) {
	t.Helper()
	before := l.stats()
	wait.For(t, "20 more reconnections of the liar, all refused", 20*time.Second, func() bool {
		s := l.stats()
		return s.dials >= before.dials+20 && s.answered == before.answered
	})
	if !bannedIP(t, n, l.ip) {
		t.Error("the liar's address is not banned")
	}
	if bannedIP(t, n, netip.MustParseAddr("127.0.0.7")) {
		t.Error("the honest seeder was banned")
	}
	s := l.stats()
	t.Logf("liar: %d connections attempted, %d answered, %d blocks sent, %d KiB wrong",
		s.dials, s.answered, s.asked, s.junk>>10)
	if s.answered > maxLiarAnswered {
		t.Errorf("the liar was let in %d times", s.answered)
	}
	if s.junk > int64(maxLiarJunkPieces*pieceLength) {
		t.Errorf("%d KiB of wrong data sent, more than %d pieces", s.junk>>10, maxLiarJunkPieces)
	}
}

// What the liar may get away with before it is banned: the first
// connection of each of its two loops and a retry or two that raced the
// ban; a few pieces of junk (what was asked of it before its first bad
// piece was checked: 2-4 pieces measured).
const (
	maxLiarAnswered   = 4
	maxLiarJunkPieces = 8
)
