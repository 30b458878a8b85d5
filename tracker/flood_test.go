package tracker

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/bencode"
	"github.com/btfs/btfs/internal/trackerload"
)

// floodTorrents is the torrent table size of the flood tests: small, so
// that a flood fills it in a fraction of a second.
const floodTorrents = 300

// newUDPPeerFrom is newUDPPeer with its socket bound to the loopback
// address src, so that a test can play several hosts.
func newUDPPeerFrom(t *testing.T, server net.Addr, src string) *udpPeer {
	t.Helper()
	laddr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(src), 0))
	conn, err := net.DialUDP("udp", laddr, server.(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &udpPeer{t: t, conn: conn}
}

// flood announces n distinct info-hashes, one peer each, with the project's
// load generator: over one connection or socket from one address (127.1.1.1)
// for HTTP and UDP, from an address per announce for HTTPClose.
func flood(t *testing.T, addr string, mode trackerload.Mode, n int) trackerload.Result {
	t.Helper()
	cfg := trackerload.Config{Addr: addr, Mode: mode, Concurrency: 1, Torrents: n, PeersPerTorrent: 1, Timeout: 10 * time.Second}
	if mode == trackerload.HTTPClose {
		cfg.Concurrency = 4
	}
	res, err := trackerload.Populate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Timeouts != 0 {
		t.Fatalf("flood: %d timeouts", res.Timeouts)
	}
	t.Logf("flood of %d (%s): %d answered, %d refused (%s)", n, mode, res.Announces, res.Errors, res.FirstError)
	return res
}

// honestUDP is a new torrent's seeder and leecher, each from an address of
// its own: both must be answered, and the leecher must get the seeder.
func honestUDP(t *testing.T, addr net.Addr, n int) {
	t.Helper()
	seeder := newUDPPeerFrom(t, addr, "127.0.0.2")
	leecher := newUDPPeerFrom(t, addr, "127.0.0.3")
	h := hashN(n)
	r := seeder.announce(seeder.connect(), AnnounceRequest{InfoHash: h, PeerID: idN(1), Port: 7001, Event: EventStarted}, -1)
	if r.action != actionAnnounce {
		t.Fatalf("honest seeder of a new torrent refused: %q", r.message)
	}
	r = leecher.announce(leecher.connect(), AnnounceRequest{InfoHash: h, PeerID: idN(2), Port: 7002, Left: 1, Event: EventStarted}, -1)
	if r.action != actionAnnounce || r.seeders != 1 || len(r.peers) != 6 || compactPorts(t, r.peers, 6)[0] != 7001 {
		t.Fatalf("honest leecher: %+v, want the seeder at port 7001", r)
	}
}

// TestUDPFloodOneAddress is the lock-out of an open tracker: one host announces many
// distinct info-hashes over UDP until the torrent table is full. The
// flooder is refused past the table's size, and a new torrent from other
// hosts still gets in, by evicting one of the flooder's.
func TestUDPFloodOneAddress(t *testing.T) {
	checkLeaks(t)
	s, err := NewServer(ServerOptions{MaxTorrents: floodTorrents, UDPWorkers: 2})
	if err != nil {
		t.Fatal(err)
	}
	addr := startUDP(t, s, "IPv4", "127.0.0.1:0")
	res := flood(t, addr.String(), trackerload.UDP, 3*floodTorrents)
	if res.Errors == 0 || !strings.Contains(res.FirstError, string(errTooManyTorrents)) {
		t.Errorf("the flooder was not limited: %+v", res)
	}
	for n := range 3 {
		honestUDP(t, addr, n)
	}
	st := s.Stats()
	if st.Torrents > floodTorrents || st.Evicted < 3 {
		t.Errorf("stats %+v: want at most %d torrents, 3 evicted", st, floodTorrents)
	}
	// The honest torrents, with two sources, are not the flooder's to evict.
	flood(t, addr.String(), trackerload.UDP, 3*floodTorrents)
	for n := range 3 {
		if sc := s.swarm.scrape(hashN(n), time.Now().UnixNano()); sc.Seeders != 1 || sc.Leechers != 1 {
			t.Errorf("honest torrent %d after a second flood: %+v", n, sc)
		}
	}
}

// TestUDPFloodPerIPCap: with a cap on the torrents one address may be the
// only source of, a flood never fills the table at all.
func TestUDPFloodPerIPCap(t *testing.T) {
	checkLeaks(t)
	const perIP = 100
	s, err := NewServer(ServerOptions{MaxTorrents: floodTorrents, PerIPMaxTorrents: perIP, UDPWorkers: 2})
	if err != nil {
		t.Fatal(err)
	}
	addr := startUDP(t, s, "IPv4", "127.0.0.1:0")
	res := flood(t, addr.String(), trackerload.UDP, 3*floodTorrents)
	if res.Announces != perIP || !strings.Contains(res.FirstError, string(errSourceTorrents)) {
		t.Errorf("flooder: %+v, want %d answered, then %q", res, perIP, errSourceTorrents)
	}
	honestUDP(t, addr, 1)
	if st := s.Stats(); st.Torrents != perIP+1 || st.Evicted != 0 {
		t.Errorf("stats %+v, want %d torrents and none evicted", st, perIP+1)
	}
}

// TestUDPFloodRate: one address's announces beyond its burst are refused
// until its bucket refills; another address is not affected.
func TestUDPFloodRate(t *testing.T) {
	checkLeaks(t)
	clock := newFakeClock() // stands still: exactly the burst gets through
	const burst = 200
	s, err := NewServer(ServerOptions{PerIPAnnounceRate: 10, PerIPAnnounceBurst: burst, Now: clock.Now, UDPWorkers: 2})
	if err != nil {
		t.Fatal(err)
	}
	addr := startUDP(t, s, "IPv4", "127.0.0.1:0")
	res := flood(t, addr.String(), trackerload.UDP, 2*burst)
	if res.Announces != burst || res.Errors != burst || !strings.Contains(res.FirstError, string(errSlowDown)) {
		t.Errorf("flooder: %+v, want %d answered and %d refused %q", res, burst, burst, errSlowDown)
	}
	honestUDP(t, addr, 1)
	clock.Advance(time.Second) // 10 tokens
	res = flood(t, addr.String(), trackerload.UDP, 2*burst)
	if res.Announces != 10 {
		t.Errorf("a second later: %d answered, want 10", res.Announces)
	}
	if st := s.Stats(); st.Throttled != burst+2*burst-10 {
		t.Errorf("throttled %d, want %d", st.Throttled, 3*burst-10)
	}
}

// httpFrom announces query over HTTP from the loopback address src.
func httpFrom(t *testing.T, ts *httptest.Server, src, query string) bencode.Value {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	return getVia(t, &http.Client{Transport: tr}, ts.URL+"/announce?"+query)
}

// honestHTTP is honestUDP over HTTP.
func honestHTTP(t *testing.T, ts *httptest.Server, n int) {
	t.Helper()
	h := hashN(n)
	if v := httpFrom(t, ts, "127.0.0.2", announceQuery(h, 1, 7001, 0, "event=started")); failureReason(v) != "" {
		t.Fatalf("honest seeder of a new torrent refused: %s", failureReason(v))
	}
	v := httpFrom(t, ts, "127.0.0.3", announceQuery(h, 2, 7002, 5, "event=started"))
	if failureReason(v) != "" || intOf(t, v, "complete") != 1 || len(bytesOf(t, v, "peers")) != 6 {
		t.Fatalf("honest leecher: %s, want the seeder", v.Raw())
	}
	if p := compactPorts(t, bytesOf(t, v, "peers"), 6); p[0] != 7001 {
		t.Fatalf("honest leecher got port %d, want 7001", p[0])
	}
}

// TestHTTPFloodOneAddress is TestUDPFloodOneAddress over HTTP.
func TestHTTPFloodOneAddress(t *testing.T) {
	checkLeaks(t)
	s, ts := newHTTPServer(t, ServerOptions{MaxTorrents: floodTorrents})
	res := flood(t, ts.Listener.Addr().String(), trackerload.HTTP, 3*floodTorrents)
	if res.Errors == 0 || !strings.Contains(res.FirstError, string(errTooManyTorrents)) {
		t.Errorf("the flooder was not limited: %+v", res)
	}
	for n := range 3 {
		honestHTTP(t, ts, n)
	}
	if st := s.Stats(); st.Torrents > floodTorrents || st.Evicted < 3 {
		t.Errorf("stats %+v: want at most %d torrents, 3 evicted", st, floodTorrents)
	}
}

// TestHTTPFloodManyAddresses: a flood from more addresses than the
// per-address table holds keeps the table at its size, and still does not
// lock out a new torrent.
func TestHTTPFloodManyAddresses(t *testing.T) {
	checkLeaks(t)
	const maxSrc = 2 * numSourceShards
	s, err := newServer(ServerOptions{MaxTorrents: floodTorrents}, maxSrc)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	flood(t, ts.Listener.Addr().String(), trackerload.HTTPClose, 4*floodTorrents)
	if n := s.sources.len(); n > maxSrc {
		t.Errorf("per-address table holds %d entries, over its %d", n, maxSrc)
	}
	honestHTTP(t, ts, 1)
	if st := s.Stats(); st.Torrents > floodTorrents {
		t.Errorf("%d torrents, over %d", st.Torrents, floodTorrents)
	}
}
