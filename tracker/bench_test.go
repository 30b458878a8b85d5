package tracker

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
)

// benchTorrents and benchPeers size the swarm the benchmarks announce into:
// enough torrents to spread over every shard, enough peers that each reply
// is a full 50.
const (
	benchTorrents = 1000
	benchPeers    = 100
)

// benchOptions are the defaults but for the per-address announce rate: a
// benchmark's few addresses announce far more often than any real host, and
// must be answered, yet the rate check is on the measured path.
func benchOptions() ServerOptions {
	return ServerOptions{PerIPAnnounceRate: maxAnnounceRate, PerIPAnnounceBurst: maxAnnounceRate}
}

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmark measures the tracker rather than net/http.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkAnnounceHTTP is the hot path of an HTTP tracker: parse, update
// the swarm, pick 50 peers, encode. It runs in parallel over many torrents
// and peers, each request a regular announce from a known peer.
func BenchmarkAnnounceHTTP(b *testing.B) {
	s, err := NewServer(benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	reqs := make([]*http.Request, benchTorrents*benchPeers)
	for i := range reqs {
		t, p := i%benchTorrents, i/benchTorrents
		r := httptest.NewRequest(http.MethodGet, "/announce?"+announceQuery(hashN(t), p, 10000+p, int64(p%4)), nil)
		r.RemoteAddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(p >> 8), byte(p)}), 40000).String()
		reqs[i] = r
		s.ServeHTTP(&discardWriter{h: http.Header{}}, r) // populate
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		i := next.Add(7919) // each goroutine starts elsewhere
		for pb.Next() {
			i++
			s.ServeHTTP(w, reqs[i%uint64(len(reqs))])
		}
	})
	if st := s.Stats(); st.Errors != 0 {
		b.Fatalf("errors: %+v", st)
	}
}

// BenchmarkAnnounceUDP is the same through the BEP 15 path (connection id
// check included), without the socket.
func BenchmarkAnnounceUDP(b *testing.B) {
	s, err := NewServer(benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	type packet struct {
		b    []byte
		from netip.AddrPort
	}
	pkts := make([]packet, benchTorrents*benchPeers)
	buf := s.getBuf()
	for i := range pkts {
		t, p := i%benchTorrents, i/benchTorrents
		from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(p >> 8), byte(p)}), 40000)
		id := s.connIDs.mint(from.Addr(), s.opts.Now(), &buf.mac)
		req := AnnounceRequest{InfoHash: hashN(t), PeerID: idN(p), Port: uint16(10000 + p), Left: int64(p % 4)}
		pkts[i] = packet{appendUDPAnnounce(nil, id, uint32(i), &req, -1), from}
		s.handlePacket(context.Background(), pkts[i].b, from, buf)
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := &replyBuf{out: make([]byte, 0, 2048), peers: make([]peer, 0, maxUDPPeers4)}
		ctx := context.Background()
		i := next.Add(7919)
		for pb.Next() {
			i++
			p := &pkts[i%uint64(len(pkts))]
			if r := s.handlePacket(ctx, p.b, p.from, buf); len(r) < udpAnnounceHdrLen {
				b.Fatalf("reply %x", r)
			}
		}
	})
}

func BenchmarkParseAnnounceQuery(b *testing.B) {
	q := announceQuery(hashN(1), 1, 6881, 100, "event=started", "numwant=50", "key=ABCD1234", "compact=1", "supportcrypto=1")
	b.ReportAllocs()
	for b.Loop() {
		var p announceParams
		if err := parseAnnounceQuery(q, &p); err != nil {
			b.Fatal(err)
		}
	}
}
