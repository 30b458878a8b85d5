package tracker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkServeHTTPLoopback is an HTTP announce through a real http.Server
// on loopback, set up as `btfs tracker` sets it up: the cost a client sees,
// net/http and the kernel included, which BenchmarkAnnounceHTTP leaves out.
// "keepalive" reuses one connection per goroutine; "close" opens one per
// announce, as many clients do, which adds accept, a goroutine and its stack
// per request. Each peer has its own source address in 127/8, so identities
// stay stable and the swarm stays at benchTorrents×benchPeers.
func BenchmarkServeHTTPLoopback(b *testing.B) {
	s, err := NewServer(benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go hs.Serve(ln)
	defer hs.Close()
	addr := ln.Addr().String()

	type req struct {
		src  net.Addr
		text []byte
	}
	reqs := make([]req, benchTorrents*benchPeers)
	for i := range reqs {
		t, p := i%benchTorrents, i/benchTorrents
		q := announceQuery(hashN(t), p, 10000, int64(p%4))
		reqs[i] = req{
			src:  &net.TCPAddr{IP: netip.AddrFrom4([4]byte{127, 3, byte(i >> 8), byte(i)}).AsSlice()},
			text: []byte("GET /announce?" + q + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"),
		}
		r, _ := http.NewRequest(http.MethodGet, "/announce?"+q, nil)
		r.RemoteAddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 3, byte(i >> 8), byte(i)}), 1).String()
		s.ServeHTTP(&discardWriter{h: http.Header{}}, r) // populate
	}
	// One source address per peer means a keep-alive connection carries one
	// peer: each goroutine keeps a few connections, one per peer it plays.
	const peersPerGoroutine = 64
	for _, mode := range []string{"keepalive", "close"} {
		b.Run(mode, func(b *testing.B) {
			var next atomic.Uint64
			b.ReportAllocs()
			b.SetParallelism(16) // many clients waiting at once, as on a real tracker
			b.RunParallel(func(pb *testing.PB) {
				base := int(next.Add(1)) * peersPerGoroutine % len(reqs)
				conns := make([]net.Conn, peersPerGoroutine)
				readers := make([]*bufio.Reader, peersPerGoroutine)
				defer func() {
					for _, c := range conns {
						if c != nil {
							c.Close()
						}
					}
				}()
				for k := 0; pb.Next(); k = (k + 1) % peersPerGoroutine {
					r := &reqs[(base+k)%len(reqs)]
					if conns[k] == nil {
						c, err := (&net.Dialer{LocalAddr: r.src}).Dial("tcp", addr)
						if err != nil {
							b.Error(err)
							return
						}
						conns[k], readers[k] = c, bufio.NewReader(c)
					}
					text := r.text
					if mode == "close" {
						text = append(bytes.TrimSuffix(text, []byte("\r\n")), "Connection: close\r\n\r\n"...)
					}
					if err := benchRoundTrip(conns[k], readers[k], text); err != nil {
						b.Error(err)
						return
					}
					if mode == "close" {
						io.Copy(io.Discard, readers[k]) // the server closes first: TIME_WAIT is its
						conns[k].Close()
						conns[k] = nil
					}
				}
			})
		})
	}
	if st := s.Stats(); st.Errors != 0 || st.Leechers+st.Seeders != len(reqs) {
		b.Fatalf("stats %+v; want no errors and %d peers", st, len(reqs))
	}
}

// benchRoundTrip writes one request and reads its reply (status 200, a
// Content-Length body).
func benchRoundTrip(c net.Conn, r *bufio.Reader, text []byte) error {
	if _, err := c.Write(text); err != nil {
		return err
	}
	n := -1
	for first := true; ; first = false {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if first && !bytes.HasPrefix(line, []byte("HTTP/1.1 200")) {
			return io.ErrUnexpectedEOF
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if n < 0 {
		return io.ErrUnexpectedEOF
	}
	_, err := r.Discard(n)
	return err
}

// BenchmarkAnnounceUDPShapes is BenchmarkAnnounceUDP over swarms of other
// shapes: many small torrents (scripts/bench-tracker.sh's 10 000 × 10, the
// common case on a real tracker) and a few big ones. Every torrent and peer
// is distinct (SHA-1 info-hashes, one address per peer), and requests visit
// them in a scattered order, so that the tracker's state is as cold in the
// cache as under real load.
func BenchmarkAnnounceUDPShapes(b *testing.B) {
	for _, shape := range []struct{ torrents, peers int }{{10000, 10}, {100, 1000}} {
		b.Run(fmt.Sprintf("%dx%d", shape.torrents, shape.peers), func(b *testing.B) {
			s, err := NewServer(benchOptions())
			if err != nil {
				b.Fatal(err)
			}
			type packet struct {
				b    []byte
				from netip.AddrPort
			}
			n := shape.torrents * shape.peers
			pkts := make([]packet, n)
			buf := s.getBuf()
			for i := range pkts {
				t, p := i%shape.torrents, i/shape.torrents
				from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 40000)
				id := s.connIDs.mint(from.Addr(), s.opts.Now(), &buf.mac)
				req := AnnounceRequest{InfoHash: sha1.Sum([]byte(strconv.Itoa(t))), PeerID: idN(i), Port: 6881, Left: int64(p % 3)}
				pkts[i] = packet{appendUDPAnnounce(nil, id, uint32(i), &req, -1), from}
				s.handlePacket(context.Background(), pkts[i].b, from, buf)
			}
			if st := s.Stats(); st.Torrents != shape.torrents || st.Seeders+st.Leechers != n {
				b.Fatalf("stats %+v", st)
			}
			var next atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				buf := &replyBuf{out: make([]byte, 0, 2048), peers: make([]peer, 0, maxUDPPeers4)}
				ctx := context.Background()
				i := next.Add(1) * 7919
				for pb.Next() {
					i += 104729 // a large prime stride: consecutive requests land far apart
					p := &pkts[i%uint64(n)]
					if r := s.handlePacket(ctx, p.b, p.from, buf); len(r) < udpAnnounceHdrLen {
						b.Fatalf("reply %x", r)
					}
				}
			})
		})
	}
}
