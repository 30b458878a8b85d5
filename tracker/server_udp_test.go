package tracker

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/btfs/btfs/metainfo"
)

// startUDP runs s.ServeUDP on a loopback socket until the test ends, and
// checks that it then returns nil.
func startUDP(t *testing.T, s *Server, network, addr string) net.Addr {
	t.Helper()
	conn, err := ListenUDP(t.Context(), addr)
	if err != nil {
		t.Skipf("no %s loopback here: %v", network, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeUDP(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeUDP: %v", err)
		}
		conn.Close()
	})
	return conn.LocalAddr()
}

// udpPeer is a raw BEP 15 client for tests.
type udpPeer struct {
	t    *testing.T
	conn *net.UDPConn
}

func newUDPPeer(t *testing.T, server net.Addr) *udpPeer {
	t.Helper()
	conn, err := net.DialUDP("udp", nil, server.(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &udpPeer{t: t, conn: conn}
}

func (p *udpPeer) port() uint16 { return uint16(p.conn.LocalAddr().(*net.UDPAddr).Port) }

// exchange sends pkt and returns the next reply.
func (p *udpPeer) exchange(pkt []byte) udpReply {
	p.t.Helper()
	if _, err := p.conn.Write(pkt); err != nil {
		p.t.Fatal(err)
	}
	return p.read()
}

// read returns the next reply.
func (p *udpPeer) read() udpReply {
	p.t.Helper()
	buf := make([]byte, maxUDPResponse)
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := p.conn.Read(buf)
	if err != nil {
		p.t.Fatalf("no reply: %v", err)
	}
	r, err := parseUDPReply(buf[:n])
	if err != nil {
		p.t.Fatalf("reply %x: %v", buf[:n], err)
	}
	return r
}

func (p *udpPeer) connect() uint64 {
	p.t.Helper()
	r := p.exchange(appendUDPConnect(nil, 77))
	if r.action != actionConnect || r.txID != 77 {
		p.t.Fatalf("connect reply %+v", r)
	}
	return r.connID
}

func (p *udpPeer) announce(connID uint64, req AnnounceRequest, numWant int32) udpReply {
	p.t.Helper()
	return p.exchange(appendUDPAnnounce(nil, connID, 88, &req, numWant))
}

func TestUDPAnnounceAndScrape(t *testing.T) {
	checkLeaks(t)
	s, err := NewServer(ServerOptions{Interval: 100 * time.Second, UDPWorkers: 2})
	if err != nil {
		t.Fatal(err)
	}
	addr := startUDP(t, s, "IPv4", "127.0.0.1:0")
	h := hashN(1)
	var peers []*udpPeer
	for i := range 3 {
		p := newUDPPeer(t, addr)
		id := p.connect()
		left := int64(10)
		if i == 0 {
			left = 0
		}
		r := p.announce(id, AnnounceRequest{InfoHash: h, PeerID: idN(i), Port: p.port(), Left: left, Event: EventStarted}, -1)
		if r.action != actionAnnounce || r.txID != 88 || r.interval != 100 {
			t.Fatalf("announce reply %+v", r)
		}
		if len(r.peers) != 6*i {
			t.Errorf("peer %d got %d bytes of peers, want %d", i, len(r.peers), 6*i)
		}
		peers = append(peers, p)
	}
	p := peers[2]
	r := p.announce(p.connect(), AnnounceRequest{InfoHash: h, PeerID: idN(2), Port: p.port(), Left: 10}, 1)
	if r.seeders != 1 || r.leechers != 2 || len(r.peers) != 6 {
		t.Errorf("numwant 1: %+v", r)
	}
	r = p.exchange(appendUDPScrape(nil, p.connect(), 99, []metainfo.Hash{h, hashN(2)}))
	if r.action != actionScrape || len(r.scrape) != 24 {
		t.Fatalf("scrape reply %+v", r)
	}
	got := [6]uint32{}
	for i := range got {
		got[i] = binary.BigEndian.Uint32(r.scrape[4*i:])
	}
	if got != [6]uint32{1, 0, 2, 0, 0, 0} { // seeders, completed, leechers per hash
		t.Errorf("scrape %v", got)
	}
	if st := s.Stats(); st.UDPConnects != 5 || st.Announces != 4 || st.Scrapes != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestUDPIPv6(t *testing.T) {
	checkLeaks(t)
	s, _ := NewServer(ServerOptions{UDPWorkers: 1})
	addr := startUDP(t, s, "IPv6", "[::1]:0")
	h := hashN(1)
	var last udpReply
	for i := range 2 {
		p := newUDPPeer(t, addr)
		last = p.announce(p.connect(), AnnounceRequest{InfoHash: h, PeerID: idN(i), Port: p.port(), Left: 1}, -1)
	}
	if len(last.peers) != 18 {
		t.Fatalf("IPv6 peers: %x", last.peers)
	}
}

// TestUDPConnectionIDs checks that ids expire after their two windows and
// that made-up ones are refused.
func TestUDPConnectionIDs(t *testing.T) {
	checkLeaks(t)
	clock := newFakeClock()
	s, _ := NewServer(ServerOptions{Now: clock.Now, UDPWorkers: 1})
	addr := startUDP(t, s, "IPv4", "127.0.0.1:0")
	p := newUDPPeer(t, addr)
	req := AnnounceRequest{InfoHash: hashN(1), PeerID: idN(1), Port: 1234, Left: 1}
	id := p.connect()
	if r := p.announce(id, req, -1); r.action != actionAnnounce {
		t.Fatalf("fresh id refused: %+v", r)
	}
	for _, forged := range []uint64{0, udpProtocolID, id ^ 1, id + 1<<40} {
		if r := p.announce(forged, req, -1); r.action != actionError || r.message != string(errUDPConnID) {
			t.Errorf("forged id %x: %+v", forged, r)
		}
	}
	clock.Advance(61 * time.Second)
	if r := p.announce(id, req, -1); r.action != actionAnnounce {
		t.Errorf("id refused after 61 s: %+v", r)
	}
	clock.Advance(60 * time.Second)
	if r := p.announce(id, req, -1); r.action != actionError {
		t.Errorf("id accepted after 121 s: %+v", r)
	}
	// Ids are bound to the IP: another address's id is refused.
	other := s.connIDs.mint(netip.MustParseAddr("127.0.0.2"), clock.Now(), new([16]byte))
	if r := p.announce(other, req, -1); r.action != actionError {
		t.Errorf("id of another address accepted: %+v", r)
	}
}

func TestUDPBadPackets(t *testing.T) {
	checkLeaks(t)
	s, _ := NewServer(ServerOptions{UDPWorkers: 1})
	addr := startUDP(t, s, "IPv4", "127.0.0.1:0")
	p := newUDPPeer(t, addr)
	id := p.connect()
	good := AnnounceRequest{InfoHash: hashN(1), PeerID: idN(1), Port: 1234, Left: 1}
	announce := func(mod func(b []byte)) []byte {
		b := appendUDPAnnounce(nil, id, 5, &good, -1)
		mod(b)
		return b
	}
	tests := []struct {
		name string
		pkt  []byte
		want string // "" means: no reply at all
	}{
		{"runt", []byte{1, 2, 3}, ""},
		{"header only, unknown action", appendUDPHeader(nil, id, 9, 5), ""}, // the error would outgrow it
		{"unknown action", append(appendUDPHeader(nil, id, 9, 5), make([]byte, 20)...), string(errUDPAction)},
		{"connect, wrong protocol id", appendUDPHeader(nil, 1234, actionConnect, 5), ""},
		{"short announce", announce(func([]byte) {})[:97], string(errUDPShort)},
		{"port 0", announce(func(b []byte) { b[96], b[97] = 0, 0 }), string(errBadPort)},
		{"unknown event", announce(func(b []byte) { b[83] = 4 }), string(errBadEvent)},
		{"negative left", announce(func(b []byte) { b[64] = 0x80 }), string(errUDPNegative)},
		{"scrape without hashes", append(appendUDPHeader(nil, id, actionScrape, 5), make([]byte, 30)...), string(errUDPScrapeLen)},
		{"scrape, partial hash", append(appendUDPHeader(nil, id, actionScrape, 5), make([]byte, 50)...), string(errUDPScrapeLen)},
		{"scrape, too many", append(appendUDPHeader(nil, id, actionScrape, 5), make([]byte, 20*(maxScrapeHashes+1))...), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Send the bad packet, then a connect: the first reply tells
			// whether the bad one was answered, with no waiting on silence.
			if _, err := p.conn.Write(tt.pkt); err != nil {
				t.Fatal(err)
			}
			r := p.exchange(appendUDPConnect(nil, 42))
			if tt.want == "" {
				if r.action != actionConnect || r.txID != 42 {
					t.Fatalf("want no reply, got %+v", r)
				}
				return
			}
			if r.action != actionError || r.txID != 5 || r.message != tt.want {
				t.Fatalf("got %+v, want error %q", r, tt.want)
			}
			p.read() // the connect's reply
		})
	}
	if st := s.Stats(); st.Torrents != 0 || st.Leechers != 0 {
		t.Errorf("bad packets changed state: %+v", st)
	}
}

// TestServeUDPPacketConn runs ServeUDP on a net.PacketConn that is not a
// *net.UDPConn, the path for wrapped sockets.
func TestServeUDPPacketConn(t *testing.T) {
	checkLeaks(t)
	s, _ := NewServer(ServerOptions{UDPWorkers: 1})
	raw, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeUDP(ctx, wrappedConn{raw}) }()
	p := newUDPPeer(t, raw.LocalAddr())
	r := p.announce(p.connect(), AnnounceRequest{InfoHash: hashN(1), PeerID: idN(1), Port: 9, Left: 1}, -1)
	if r.action != actionAnnounce || r.leechers != 1 {
		t.Errorf("announce %+v", r)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeUDP after cancel: %v", err)
	}
	// A closed socket ends it with an error.
	raw.Close()
	if err := s.ServeUDP(context.Background(), wrappedConn{raw}); err == nil {
		t.Error("ServeUDP on a closed socket returned nil")
	}
}

type wrappedConn struct{ net.PacketConn }
