package tracker

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/btfs/btfs/bencode"
)

// storedAddr announces peer 1 of a fresh torrent with query extras as if from
// src, then asks as peer 2 from elsewhere, and returns the address the
// tracker handed out for peer 1.
func storedAddr(t *testing.T, s *Server, n int, src string, extra ...string) netip.Addr {
	t.Helper()
	h := hashN(100 + n)
	serve := func(from, q string) []byte {
		r := httptest.NewRequest(http.MethodGet, "/announce?"+q, nil)
		r.RemoteAddr = from
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Body.Bytes()
	}
	serve(src, announceQuery(h, 1, 7001, 0, extra...))
	body := serve("127.0.0.9:5000", announceQuery(h, 2, 7002, 5))
	v, err := bencode.Parse(body)
	if err != nil {
		t.Fatalf("reply %q: %v", body, err)
	}
	if f := failureReason(v); f != "" {
		t.Fatalf("refused: %s", f)
	}
	peers := bytesOf(t, v, "peers")
	if len(peers) != 6 {
		t.Fatalf("peers %x, want one IPv4 peer", peers)
	}
	return netip.AddrFrom4([4]byte(peers[:4]))
}

// TestIPParamUntrusted: from a sender nobody said to trust, the ip parameter
// is ignored, whatever it says; the peer is stored at its source address.
func TestIPParamUntrusted(t *testing.T) {
	s, err := NewServer(ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, ip := range []string{"255.255.255.255", "0.0.0.0", "224.0.0.1", "10.1.2.3", "198.51.100.7", "127.0.0.5", "not-an-ip"} {
		if got := storedAddr(t, s, i, "127.0.0.1:4000", "ip="+ip); got != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("ip=%s from an untrusted loopback sender: stored %s, want 127.0.0.1", ip, got)
		}
	}
}

// TestIPParamTrusted: from a trusted network the claim is honoured, but
// only a unicast address a peer can be reached at.
func TestIPParamTrusted(t *testing.T) {
	s, err := NewServer(ServerOptions{TrustIPFrom: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ src, claimed, want string }{
		{"127.0.0.1:4000", "198.51.100.7", "198.51.100.7"},
		{"127.0.0.1:4000", "10.1.2.3", "10.1.2.3"},
		{"127.0.0.1:4000", "127.0.0.5", "127.0.0.5"},                    // loopback from loopback
		{"127.0.0.1:4000", "%3A%3Affff%3A198.51.100.8", "198.51.100.8"}, // IPv4 in IPv6
		{"127.0.0.1:4000", "255.255.255.255", "127.0.0.1"},              // broadcast
		{"127.0.0.1:4000", "0.0.0.0", "127.0.0.1"},                      // unspecified
		{"127.0.0.1:4000", "224.0.0.1", "127.0.0.1"},                    // multicast
		{"127.0.0.1:4000", "239.255.255.250", "127.0.0.1"},              // multicast
		{"127.0.0.1:4000", "169.254.1.1", "127.0.0.1"},                  // link-local
		{"127.0.0.1:4000", "example.com", "127.0.0.1"},                  // names are never resolved
		{"[::ffff:10.0.0.1]:4000", "10.0.0.9", "10.0.0.9"},              // a mapped source is its IPv4
		{"10.0.0.1:4000", "127.0.0.1", "10.0.0.1"},                      // loopback only from loopback
		{"192.168.1.2:4000", "198.51.100.7", "192.168.1.2"},             // a network not listed
		{"203.0.113.5:4000", "198.51.100.7", "203.0.113.5"},
	}
	for i, tt := range tests {
		if got := storedAddr(t, s, i, tt.src, "ip="+tt.claimed); got != netip.MustParseAddr(tt.want) {
			t.Errorf("ip=%s from %s: stored %s, want %s", tt.claimed, tt.src, got, tt.want)
		}
	}
}

// TestUDPIPField: the BEP 15 announce's IP field obeys the same rule.
func TestUDPIPField(t *testing.T) {
	checkLeaks(t)
	for _, trusted := range []bool{false, true} {
		opts := ServerOptions{UDPWorkers: 1}
		if trusted {
			opts.TrustIPFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
		}
		s, err := NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		addr := startUDP(t, s, "IPv4", "127.0.0.1:0")
		claimant, asker := newUDPPeerFrom(t, addr, "127.0.0.2"), newUDPPeerFrom(t, addr, "127.0.0.3")
		for i, tt := range []struct{ claimed, trustedWant string }{
			{"255.255.255.255", "127.0.0.2"},
			{"0.0.0.0", "127.0.0.2"}, // BEP 15: 0 means "the sender's"
			{"224.0.0.1", "127.0.0.2"},
			{"198.51.100.7", "198.51.100.7"},
		} {
			h := hashN(200 + i)
			claimant.announce(claimant.connect(), AnnounceRequest{InfoHash: h, PeerID: idN(1), Port: 7001, IP: netip.MustParseAddr(tt.claimed)}, -1)
			r := asker.announce(asker.connect(), AnnounceRequest{InfoHash: h, PeerID: idN(2), Port: 7002, Left: 1}, -1)
			if len(r.peers) != 6 {
				t.Fatalf("reply %+v, want one peer", r)
			}
			want := "127.0.0.2"
			if trusted {
				want = tt.trustedWant
			}
			if got := netip.AddrFrom4([4]byte(r.peers[:4])); got != netip.MustParseAddr(want) {
				t.Errorf("trusted %v, IP field %s: stored %s, want %s", trusted, tt.claimed, got, want)
			}
		}
	}
}
