package tracker

import (
	"bytes"
	"context"
	"net/netip"
	"testing"

	"github.com/btfs/btfs/metainfo"
)

// FuzzParseAnnounceQuery checks that no query panics the parsers, that what
// the announce parser accepts is in range, and that it survives a round
// trip through the client's encoder.
func FuzzParseAnnounceQuery(f *testing.F) {
	h, id := hashN(1), idN(1)
	for _, q := range []string{
		announceQuery(h, 1, 6881, 100),
		announceQuery(h, 1, 6881, 0, "event=started", "numwant=50", "compact=0", "no_peer_id=1", "ip=10.0.0.1", "key=abcd"),
		announceQuery(h, 1, 1, 5, "event=stopped", "ip=%3A%3A1", "supportcrypto=1"),
		"info_hash=" + everyByteEscaped(h[:]) + "&peer_id=" + string(id[:]) + "&port=65535&left=9223372036854775807",
		"info_hash=++++++++++++++++++++&peer_id=%2B%2B%2B%2B%2B%2B%2B%2B%2B%2B%2B%2B%2B%2B%2B%2B%2B%2B%2B%2B&port=1&left=0",
		"info_hash=%zz", "port=0", "&&&=&=", "%", "info_hash=" + esc(h[:]) + "&info_hash=x",
	} {
		f.Add(q)
	}
	for _, ip := range []string{"255.255.255.255", "0.0.0.0", "224.0.0.1", "%3A%3A", "ff02%3A%3A1", "fe80%3A%3A1", "198.51.100.7", "127.0.0.2"} {
		f.Add(announceQuery(h, 1, 6881, 5, "ip="+ip))
	}
	trusting, err := NewServer(ServerOptions{TrustIPFrom: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		f.Fatal(err)
	}
	trusted, untrusted := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("203.0.113.9")
	f.Fuzz(func(t *testing.T, q string) {
		var hs [maxScrapeHashes]metainfo.Hash
		if n, err := parseScrapeQuery(q, &hs); (err == nil) != (n > 0) || n > maxScrapeHashes {
			t.Fatalf("scrape: %d hashes, error %v", n, err)
		}
		var p announceParams
		if err := parseAnnounceQuery(q, &p); err != nil {
			return
		}
		if p.port == 0 || p.left < 0 || p.uploaded < 0 || p.downloaded < 0 || p.numWant < -1 || p.event > EventStopped {
			t.Fatalf("out of range: %+v", p)
		}
		// The ip rule: never from an untrusted sender, and from a trusted
		// one only an address a peer can be reached at.
		if got := trusting.peerAddr(untrusted, p.ip); got != untrusted {
			t.Fatalf("ip %v from an untrusted sender stored as %v", p.ip, got)
		}
		if got := trusting.peerAddr(trusted, p.ip); got != trusted &&
			(got != p.ip || !got.IsGlobalUnicast() && !got.IsLoopback() || got.Is4In6()) {
			t.Fatalf("ip %v from a trusted sender stored as %v", p.ip, got)
		}
		req := AnnounceRequest{
			InfoHash: p.infoHash, PeerID: p.peerID, Port: p.port, Left: p.left, Uploaded: p.uploaded,
			Downloaded: p.downloaded, Event: p.event, NumWant: max(p.numWant, 0), IP: p.ip,
		}
		var back announceParams
		q2 := string(appendAnnounceQuery(nil, &req))
		if err := parseAnnounceQuery(q2, &back); err != nil {
			t.Fatalf("re-encoded %q: %v", q2, err)
		}
		if back.infoHash != p.infoHash || back.peerID != p.peerID || back.port != p.port || back.left != p.left ||
			back.uploaded != p.uploaded || back.downloaded != p.downloaded || back.event != p.event || back.ip != p.ip {
			t.Fatalf("round trip: %+v became %+v", p, back)
		}
	})
}

// FuzzUDPPacket feeds datagrams to the server's parser and its whole request
// path, and to the client's reply parser. Accepted announces re-encode to
// the same bytes; error replies never outgrow the packet.
func FuzzUDPPacket(f *testing.F) {
	// A fixed key and clock keep the corpus's connection ids valid, so
	// that the fuzzer reaches announce and scrape.
	clock := newFakeClock()
	// The clock stands still, so no rate would let the fuzzer past its
	// burst; the ip rule is in play for the packets' IP field.
	s, err := NewServer(ServerOptions{MaxTorrents: 1000, Now: clock.Now, PerIPAnnounceRate: Unlimited,
		TrustIPFrom: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		f.Fatal(err)
	}
	s.connIDs = connIDsWithKey([16]byte{})
	from := netip.MustParseAddrPort("127.0.0.1:6881")
	buf := s.getBuf()
	connID := s.connIDs.mint(from.Addr(), s.opts.Now(), &buf.mac)
	req := AnnounceRequest{InfoHash: hashN(1), PeerID: idN(1), Port: 6881, Left: 10, Event: EventStarted, IP: netip.MustParseAddr("10.0.0.1")}
	f.Add(appendUDPConnect(nil, 1))
	f.Add(appendUDPAnnounce(nil, connID, 2, &req, -1))
	f.Add(appendUDPAnnounce(nil, 12345, 2, &req, 50))
	f.Add(appendUDPScrape(nil, connID, 3, []metainfo.Hash{hashN(1), hashN(2)}))
	f.Add(appendUDPError(nil, 4, "bad connection id"))
	f.Add(append(appendUDPReplyHeader(nil, actionAnnounce, 5), make([]byte, 12+18)...))
	f.Add([]byte{0, 0, 0, 2, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		parseUDPReply(pkt)
		var r udpRequest
		if err := parseUDPRequest(pkt, &r); err == nil && r.action == actionAnnounce {
			a := &r.announce
			back := AnnounceRequest{InfoHash: a.infoHash, PeerID: a.peerID, Port: a.port, Left: a.left,
				Uploaded: a.uploaded, Downloaded: a.downloaded, Event: a.event, Key: a.key, IP: a.ip}
			if enc := appendUDPAnnounce(nil, r.connID, r.txID, &back, a.numWant); !bytes.Equal(enc, pkt[:udpAnnounceLen]) {
				t.Fatalf("announce %x re-encodes as %x", pkt[:udpAnnounceLen], enc)
			}
		}
		reply := s.handlePacket(context.Background(), pkt, from, buf)
		if len(reply) >= 4 && reply[3] == actionError && len(reply) > len(pkt) {
			t.Fatalf("%d-byte error reply to a %d-byte packet", len(reply), len(pkt))
		}
	})
}

// FuzzParseAnnounceReply feeds the client's HTTP reply parsers.
func FuzzParseAnnounceReply(f *testing.F) {
	id := idN(1)
	for _, s := range []string{
		"d8:intervali1800e5:peers6:\x0a\x00\x00\x01\x1a\xe1e",
		"d8:completei1e10:incompletei2e8:intervali60e12:min intervali30e5:peers0:6:peers618:" +
			"\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe1e",
		"d5:peersld2:ip8:10.0.0.17:peer id20:" + string(id[:]) + "4:porti6881eeee",
		"d14:failure reason4:nopee", "d15:warning message1:w10:tracker id1:xe",
		"d5:filesd20:" + string(id[:]) + "d8:completei1e10:downloadedi2e10:incompletei3eeee",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		parseScrapeReply(body)
		r, err := parseAnnounceReply(body)
		if err != nil {
			return
		}
		for _, p := range r.Peers {
			if !p.Addr.IsValid() || p.Addr.Port() == 0 {
				t.Fatalf("bad peer %v", p.Addr)
			}
		}
		if r.Interval < 0 || r.MinInterval < 0 || r.Seeders < 0 || r.Leechers < 0 {
			t.Fatalf("negative: %+v", r)
		}
	})
}
