package tracker

import (
	"context"
	"errors"
	"github.com/btfs/btfs/internal/wait"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btfs/btfs/metainfo"
)

func TestClientUDPRoundTrip(t *testing.T) {
	checkLeaks(t)
	s, _ := NewServer(ServerOptions{Interval: 77 * time.Second, UDPWorkers: 1})
	url := "udp://" + startUDP(t, s, "IPv4", "127.0.0.1:0").String() + "/announce"
	clock := newFakeClock()
	c := NewClient(ClientOptions{UDPTimeout: 100 * time.Millisecond})
	c.now = clock.Now
	ctx := t.Context()
	h := hashN(1)
	if _, err := c.Announce(ctx, url, AnnounceRequest{InfoHash: h, PeerID: idN(1), Port: 1111, Event: EventStarted}); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Announce(ctx, url, AnnounceRequest{InfoHash: h, PeerID: idN(2), Port: 2222, Left: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Peers) != 1 || resp.Peers[0].Addr != netip.MustParseAddrPort("127.0.0.1:1111") ||
		resp.Interval != 77*time.Second || resp.Seeders != 1 || resp.Leechers != 1 {
		t.Errorf("reply %+v", resp)
	}
	stats, err := c.Scrape(ctx, url, []metainfo.Hash{h, hashN(9)})
	if err != nil {
		t.Fatal(err)
	}
	if stats[h] != (ScrapeStats{Seeders: 1, Leechers: 1}) || len(stats) != 2 {
		t.Errorf("scrape %+v", stats)
	}
	if n := s.Stats().UDPConnects; n != 1 {
		t.Errorf("%d connects, want 1: the id is cached", n)
	}
	if st := s.Stats(); st.UDPAnnounces != 2 || st.HTTPAnnounces != 0 || st.Announces != 2 {
		t.Errorf("announces by protocol: %+v", st)
	}
	clock.Advance(clientConnIDTTL + time.Second)
	if _, err := c.Announce(ctx, url, AnnounceRequest{InfoHash: h, PeerID: idN(2), Port: 2222, Left: 5}); err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().UDPConnects; n != 2 {
		t.Errorf("%d connects, want 2: the id expired", n)
	}
	_, err = c.Announce(ctx, url, AnnounceRequest{InfoHash: h, PeerID: idN(2)})
	var fe *FailureError
	if !errors.As(err, &fe) || fe.Reason != string(errBadPort) {
		t.Errorf("port 0: %v", err)
	}
}

// TestClientUDPReconnect restarts the tracker (a new secret) under a client
// holding a cached id: the refusal makes it connect again.
func TestClientUDPReconnect(t *testing.T) {
	checkLeaks(t)
	conn, err := ListenUDP(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	url := "udp://" + conn.LocalAddr().String()
	c := NewClient(ClientOptions{UDPTimeout: 100 * time.Millisecond})
	req := AnnounceRequest{InfoHash: hashN(1), PeerID: idN(1), Port: 1}
	for i := range 2 {
		s, _ := NewServer(ServerOptions{UDPWorkers: 1})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.ServeUDP(ctx, conn) }()
		if _, err := c.Announce(t.Context(), url, req); err != nil {
			t.Errorf("server %d: %v", i, err)
		}
		if n := s.Stats().UDPConnects; n != 1 {
			t.Errorf("server %d: %d connects", i, n)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// fakeUDPTracker answers each packet with what handle returns, until the
// test ends.
func fakeUDPTracker(t *testing.T, handle func(pkt []byte) [][]byte) string {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			for _, r := range handle(buf[:n]) {
				conn.WriteToUDPAddrPort(r, from)
			}
		}
	})
	t.Cleanup(func() { conn.Close(); wg.Wait() })
	return "udp://" + conn.LocalAddr().String()
}

func TestClientUDPRetransmit(t *testing.T) {
	checkLeaks(t)
	var connects, announces atomic.Int32
	url := fakeUDPTracker(t, func(pkt []byte) [][]byte {
		var req udpRequest
		if err := parseUDPRequest(pkt, &req); err != nil {
			return nil
		}
		switch req.action {
		case actionConnect:
			if connects.Add(1) == 1 {
				return nil // lost
			}
			stray := appendUDPReplyHeader(nil, actionConnect, req.txID+1)
			good := appendUDPReplyHeader(nil, actionConnect, req.txID)
			return [][]byte{append(stray, 0, 0, 0, 0, 0, 0, 0, 1), {1, 2}, append(good, 0, 0, 0, 0, 0, 0, 0, 9)}
		case actionAnnounce:
			announces.Add(1)
			if req.connID != 9 {
				return [][]byte{appendUDPError(nil, req.txID, "bad connection id")}
			}
			r := appendUDPReplyHeader(nil, actionAnnounce, req.txID)
			r = append(r, 0, 0, 0, 60, 0, 0, 0, 2, 0, 0, 0, 3, 10, 0, 0, 1, 0x1a, 0xe1)
			return [][]byte{r}
		}
		return nil
	})
	c := NewClient(ClientOptions{UDPTimeout: 20 * time.Millisecond})
	resp, err := c.Announce(t.Context(), url, AnnounceRequest{InfoHash: hashN(1), Port: 1})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Interval != time.Minute || resp.Leechers != 2 || resp.Seeders != 3 || len(resp.Peers) != 1 ||
		resp.Peers[0].Addr != netip.MustParseAddrPort("10.0.0.1:6881") {
		t.Errorf("reply %+v", resp)
	}
	if connects.Load() != 2 || announces.Load() != 1 {
		t.Errorf("%d connects, %d announces; want 2, 1", connects.Load(), announces.Load())
	}
}

func TestClientUDPFailure(t *testing.T) {
	checkLeaks(t)
	url := fakeUDPTracker(t, func(pkt []byte) [][]byte {
		var req udpRequest
		parseUDPRequest(pkt, &req)
		if req.action == actionConnect {
			return [][]byte{append(appendUDPReplyHeader(nil, actionConnect, req.txID), 0, 0, 0, 0, 0, 0, 0, 1)}
		}
		return [][]byte{appendUDPError(nil, req.txID, "torrent not allowed")}
	})
	c := NewClient(ClientOptions{UDPTimeout: 50 * time.Millisecond})
	_, err := c.Announce(t.Context(), url, AnnounceRequest{InfoHash: hashN(1), Port: 1})
	var fe *FailureError
	if !errors.As(err, &fe) || fe.Reason != "torrent not allowed" {
		t.Fatalf("error %v", err)
	}
}

func TestClientUDPTimeouts(t *testing.T) {
	checkLeaks(t)
	var got atomic.Int32
	url := fakeUDPTracker(t, func([]byte) [][]byte { got.Add(1); return nil })

	c := NewClient(ClientOptions{UDPTimeout: 5 * time.Millisecond, UDPRetries: 2})
	_, err := c.Announce(t.Context(), url, AnnounceRequest{Port: 1})
	if err == nil || !strings.Contains(err.Error(), "no reply after 3 tries") {
		t.Errorf("error %v", err)
	}
	wait.For(t, "three tries to arrive", 10*time.Second, func() bool { return got.Load() == 3 })

	c = NewClient(ClientOptions{UDPTimeout: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Announce(ctx, url, AnnounceRequest{Port: 1})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("error %v after %v, want the context's deadline", err, time.Since(start))
	}
}
