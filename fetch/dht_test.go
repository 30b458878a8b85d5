package fetch

import (
	"context"
	"errors"
	"github.com/btfs/btfs/internal/wait"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

// fakeDHT is a DHT that hands out fixed peers and records what it is asked.
type fakeDHT struct {
	addr  netip.AddrPort
	peers []netip.AddrPort

	mu        sync.Mutex
	announced []announceCall
	pinged    []netip.AddrPort
}

type announceCall struct {
	hash metainfo.Hash
	port int
}

func (f *fakeDHT) Announce(ctx context.Context, h metainfo.Hash, port int, onPeers func([]netip.AddrPort)) error {
	f.mu.Lock()
	f.announced = append(f.announced, announceCall{h, port})
	f.mu.Unlock()
	if len(f.peers) > 0 {
		onPeers(f.peers)
	}
	<-ctx.Done()
	return ctx.Err()
}

func (f *fakeDHT) Ping(_ context.Context, a netip.AddrPort) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pinged = append(f.pinged, a)
	return nil
}

func (f *fakeDHT) Addr() netip.AddrPort { return f.addr }

func (f *fakeDHT) calls() ([]announceCall, []netip.AddrPort) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.announced), slices.Clone(f.pinged)
}

var testDHTAddr = netip.MustParseAddrPort("127.0.0.1:6999")

// A public torrent with a DHT: it announces its listening port there and
// dials the peers the DHT finds (here the only seeder, so the download
// proves it); its handshake says it runs a DHT node, it sends its node's
// port to a peer that runs one too, and pings the node a peer names.
func TestDHTAnnouncesAndAnswersPort(t *testing.T) {
	mi, src := makeContent(t, 512<<10, 32<<10)
	seeder := startNode(t, mi, src, true, nil)
	dht := &fakeDHT{addr: testDHTAddr, peers: []netip.AddrPort{seeder.addr}}
	leecher := startNode(t, mi, t.TempDir(), false, func(c *Config) { c.DHT = dht })
	waitDone(t, leecher, 20*time.Second)
	if announced, _ := dht.calls(); !slices.Equal(announced, []announceCall{{mi.InfoHash, leecher.ln.Port()}}) {
		t.Fatalf("DHT announces %v, want one of port %d", announced, leecher.ln.Port())
	}

	p, theirs, hs := dialExtendedPeer(t, leecher, mi, wire.WithDHT(wire.DefaultReserved()), map[string]int{wire.PexExtension: testPexID}, 0)
	if !theirs.SupportsDHT() || hs.M[wire.PexExtension] != pexLocalID {
		t.Fatalf("handshake %x, extensions %v: want the DHT bit and ut_pex", theirs.Reserved, hs.M)
	}
	if m := p.expect(wire.Port); m.Port != testDHTAddr.Port() {
		t.Fatalf("PORT %d, want %d", m.Port, testDHTAddr.Port())
	}
	p.send(wire.Message{ID: wire.Port, Port: 7001}, wire.Message{ID: wire.Port, Port: 7002}) // once per connection
	want := []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddrPort(p.c.LocalAddr().String()).Addr(), 7001)}
	wait.For(t, "the ping of the peer's node", 10*time.Second, func() bool { _, pinged := dht.calls(); return len(pinged) > 0 })
	time.Sleep(50 * time.Millisecond)
	if _, pinged := dht.calls(); !slices.Equal(pinged, want) {
		t.Fatalf("pinged %v, want %v", pinged, want)
	}
}

// makePrivateContent is makeContent for a private torrent (BEP 27).
func makePrivateContent(t *testing.T) (*metainfo.MetaInfo, string) {
	t.Helper()
	_, dir := makeContent(t, 256<<10, 32<<10)
	mi, err := metainfo.Create(context.Background(), filepath.Join(dir, "content.bin"),
		metainfo.CreateOptions{PieceLength: 32 << 10, Private: true})
	if err != nil || !mi.Info.Private {
		t.Fatalf("private torrent: %v (private %v)", err, mi != nil && mi.Info.Private)
	}
	return mi, dir
}

// A private torrent uses neither the DHT nor PEX, though it has a DHT: no
// announce, no DHT bit, no PORT message, no ping of a peer's node, no
// ut_pex offered, and a peer's ut_pex message is ignored.
func TestPrivateTorrentNoDHTNoPex(t *testing.T) {
	mi, src := makePrivateContent(t)
	dht := &fakeDHT{addr: testDHTAddr}
	seeder := startNode(t, mi, src, true, func(c *Config) { c.DHT = dht; fastPex(c) })
	p, theirs, hs := dialExtendedPeer(t, seeder, mi, wire.WithDHT(wire.DefaultReserved()), map[string]int{wire.PexExtension: testPexID}, 0)
	if theirs.SupportsDHT() {
		t.Errorf("handshake %x sets the DHT bit", theirs.Reserved)
	}
	if _, ok := hs.M[wire.PexExtension]; ok {
		t.Errorf("extension handshake offers ut_pex: %v", hs.M)
	}
	pex, err := wire.PexMessage{Added: []wire.PexPeer{{Addr: netip.MustParseAddrPort("127.0.0.1:9")}}}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	p.send(wire.Message{ID: wire.Port, Port: 7001}, wire.Message{ID: wire.Extended, ExtendedID: pexLocalID, Payload: pex})
	p.c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	for {
		m, err := p.r.ReadMessage()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			break
		}
		if err != nil {
			t.Fatalf("connection ended: %v", err)
		}
		if m.ID == wire.Port || (m.ID == wire.Extended && m.ExtendedID == testPexID) {
			t.Fatalf("a private torrent sent %v (extended ID %d)", m.ID, m.ExtendedID)
		}
	}
	announced, pinged := dht.calls()
	var candidates int
	seeder.t.do(context.Background(), func() { candidates = seeder.t.book.len() })
	if len(announced) != 0 || len(pinged) != 0 || candidates != 0 {
		t.Fatalf("private torrent: DHT announces %v, pings %v, %d candidates; want none", announced, pinged, candidates)
	}
}
