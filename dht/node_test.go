package dht

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/btfs/btfs/metainfo"
)

var testHash = metainfo.Hash{0xb7, 0xf5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}

// TestLookupFindsAnnouncedPeer: on a 12-node loopback DHT, one node
// announces a port for an info-hash and another finds it with get_peers.
func TestLookupFindsAnnouncedPeer(t *testing.T) {
	nodes := startNetwork(t, 12, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	st, err := nodes[3].Lookup(ctx, testHash, 51413, func([]netip.AddrPort) {})
	if err != nil || st.Responded == 0 {
		t.Fatalf("announcing lookup: %+v, %v", st, err)
	}
	stored := 0
	for _, n := range nodes {
		stored += n.Stats().Peers
	}
	if stored == 0 {
		t.Fatal("no node stored the announced peer")
	}

	var found []netip.AddrPort
	st, err = nodes[9].Lookup(ctx, testHash, 0, func(p []netip.AddrPort) { found = append(found, p...) })
	if err != nil {
		t.Fatal(err)
	}
	want := netip.MustParseAddrPort("127.0.0.1:51413")
	if !slices.Contains(found, want) {
		t.Fatalf("lookup found %v (%+v), want %v", found, st, want)
	}
	if st.Peers != len(found) {
		t.Errorf("stats say %d peers, onPeers got %d", st.Peers, len(found))
	}
	// Peers are handed over once per lookup.
	slices.SortFunc(found, netip.AddrPort.Compare)
	if len(slices.Compact(found)) != st.Peers {
		t.Errorf("duplicates in %v", found)
	}
}

// TestAnnounceRepeats: Announce keeps looking up, so a node that starts
// before the peer is announced still finds it; both calls end with ctx.
func TestAnnounceRepeats(t *testing.T) {
	nodes := startNetwork(t, 8, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	found := make(chan netip.AddrPort, 100)
	seeker := make(chan error, 1)
	go func() {
		seeker <- nodes[5].Announce(ctx, testHash, 0, func(ps []netip.AddrPort) {
			for _, p := range ps {
				select {
				case found <- p:
				default:
				}
			}
		})
	}()
	announcer := make(chan error, 1)
	go func() { announcer <- nodes[2].Announce(ctx, testHash, 40000, func([]netip.AddrPort) {}) }()

	want := netip.MustParseAddrPort("127.0.0.1:40000")
	timeout := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case p := <-found:
			got = p == want
		case err := <-seeker:
			t.Fatalf("seeker returned early: %v", err)
		case err := <-announcer:
			t.Fatalf("announcer returned early: %v", err)
		case <-timeout:
			t.Fatalf("%v not found", want)
		}
	}
	cancel()
	for _, ch := range []chan error{seeker, announcer} {
		if err := <-ch; !errors.Is(err, context.Canceled) {
			t.Errorf("Announce returned %v, want context.Canceled", err)
		}
	}
}

// TestCloseEndsCalls: Close ends a running Announce with ErrClosed, and
// later calls fail at once.
func TestCloseEndsCalls(t *testing.T) {
	nodes := startNetwork(t, 3, 1)
	n := nodes[1]
	done := make(chan error, 1)
	go func() { done <- n.Announce(context.Background(), testHash, 1234, func([]netip.AddrPort) {}) }()
	n.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Announce returned %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Announce still running after Close")
	}
	if _, err := n.Lookup(context.Background(), testHash, 0, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Lookup after Close: %v, want ErrClosed", err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestLookupAlone: a node that knows nobody finishes a lookup at once,
// having asked no one.
func TestLookupAlone(t *testing.T) {
	n := openNode(t, testConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := n.Lookup(ctx, testHash, 6881, func([]netip.AddrPort) { t.Error("peers from nowhere") })
	if err != nil || st.Responded != 0 {
		t.Fatalf("lookup: %+v, %v", st, err)
	}
}

// TestLookupContext: a lookup waiting for the node's first join ends with
// its context.
func TestLookupContext(t *testing.T) {
	// A bootstrap node that never answers keeps the first join waiting for
	// a query timeout.
	silent := openNode(t, testConfig())
	cfg := testConfig(silent.Addr())
	cfg.QueryTimeout = 500 * time.Millisecond
	silent.Close()
	n := openNode(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := n.Lookup(ctx, testHash, 0, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lookup: %v, want context.DeadlineExceeded", err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Listen: "127.0.0.1:0", Bootstrap: []string{"no-port"}},
		{Listen: "127.0.0.1:99999"},
	} {
		n, err := Open(context.Background(), cfg)
		if err == nil {
			n.Close()
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
}

// TestPing: a ping that is answered puts the node in the table; one to a
// closed port fails within the query timeout.
func TestPing(t *testing.T) {
	a, b := openNode(t, testConfig()), openNode(t, testConfig())
	<-a.bootstrapped
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Ping(ctx, b.Addr()); err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st.Nodes != 1 || st.GoodNodes != 1 {
		t.Fatalf("after a ping: %+v, want b as a good node", st)
	}
	c := openNode(t, testConfig())
	closed := c.Addr()
	c.Close()
	start := time.Now()
	if err := a.Ping(ctx, closed); err == nil {
		t.Fatal("ping to a closed port succeeded")
	}
	if d := time.Since(start); d > 2*testQueryTimeout {
		t.Errorf("failed ping took %v", d)
	}
}
