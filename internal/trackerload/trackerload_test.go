package trackerload

import (
	"context"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/leakcheck"
	"github.com/btfs/btfs/tracker"
)

// TestMain fails the run if a worker, a tracker goroutine or an HTTP
// connection outlives the tests.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.Main(m, "btfs/btfs/internal/trackerload.", "btfs/btfs/tracker.", "net/http.(*conn).serve"))
}

// TestModes drives a real tracker.Server on loopback in each mode and checks
// that the swarm it ends with is the one the Config describes: every peer
// kept its identity, so the tracker holds exactly Torrents×PeersPerTorrent
// peers, a third of them seeders, and no request was refused.
func TestModes(t *testing.T) {
	for _, mode := range []Mode{HTTP, HTTPClose, UDP} {
		t.Run(string(mode), func(t *testing.T) {
			// A worker's address announces for many peers, many times a
			// second: no per-address rate applies.
			srv, err := tracker.NewServer(tracker.ServerOptions{PerIPAnnounceRate: tracker.Unlimited})
			if err != nil {
				t.Fatal(err)
			}
			addr := serve(t, srv)
			cfg := Config{Addr: addr, Mode: mode, Concurrency: 4, Duration: 200 * time.Millisecond, Torrents: 30, PeersPerTorrent: 6}
			ctx := context.Background()
			pop, err := Populate(ctx, cfg)
			if err != nil || pop.Announces != 180 || pop.Errors+pop.Timeouts != 0 {
				t.Fatalf("populate: %+v, %v", pop, err)
			}
			res, err := Run(ctx, cfg)
			if err != nil || res.Announces == 0 || res.Errors+res.Timeouts != 0 || res.P99 < res.P50 || res.P50 <= 0 {
				t.Fatalf("run: %+v, %v", res, err)
			}
			if res.Reconnects != 0 {
				t.Errorf("%d reconnects: the server keeps connections alive", res.Reconnects)
			}
			st := srv.Stats()
			if st.Torrents != 30 || st.Seeders != 60 || st.Leechers != 120 || st.Errors != 0 {
				t.Errorf("tracker state %+v; want 30 torrents, 60 seeders, 120 leechers", st)
			}
		})
	}
}

func TestConfigChecks(t *testing.T) {
	for _, cfg := range []Config{
		{Mode: "ftp", Concurrency: 1, Torrents: 1, PeersPerTorrent: 1},
		{Mode: HTTP, Concurrency: 0, Torrents: 1, PeersPerTorrent: 1},
		{Mode: HTTP, Concurrency: 1, Torrents: 100000, PeersPerTorrent: 1}, // one lane, too many ports
		{Mode: HTTPClose, Concurrency: 1, Torrents: maxPeers + 1, PeersPerTorrent: 1},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

// serve runs srv on one loopback port, HTTP and UDP, until the test ends.
func serve(t *testing.T, srv *tracker.Server) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { hs.Serve(ln); done <- struct{}{} }()
	go func() { srv.ServeUDP(ctx, pc); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		hs.Close()
		<-done
		<-done
		pc.Close()
	})
	return addr
}
