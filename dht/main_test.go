package dht

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/leakcheck"
)

// TestMain fails the run if a goroutine of this package or of the library
// outlives the tests: Close must stop them all.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.Main(m, "btfs/btfs/dht.", "anacrolix/dht/"))
}

// testQueryTimeout is the query timeout of test nodes: loopback answers in
// microseconds, and Close waits up to this long.
const testQueryTimeout = 300 * time.Millisecond

// testConfig returns the Config of a node on 127.0.0.1 that joins through
// bootstrap (loopback addresses) and refuses to send anywhere but loopback.
func testConfig(bootstrap ...netip.AddrPort) Config {
	cfg := Config{
		Listen:           "127.0.0.1:0",
		Logger:           slog.New(slog.DiscardHandler),
		AnnounceInterval: 200 * time.Millisecond,
		QueryTimeout:     testQueryTimeout,
		SendRate:         100000,
		allowDest:        netip.Addr.IsLoopback,
		retryDelay:       20 * time.Millisecond,
	}
	for _, b := range bootstrap {
		cfg.Bootstrap = append(cfg.Bootstrap, b.String())
	}
	return cfg
}

// openNode opens a node, closed at the end of the test, which then checks
// that it never tried to send beyond loopback.
func openNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Close()
		if r := n.conn.refused.Load(); r > 0 {
			t.Errorf("node %v tried to send %d datagrams beyond loopback", n.Addr(), r)
		}
	})
	return n
}

// startNetwork starts size nodes on 127.0.0.1, each joining through all
// those started before it. It returns once every node knows at least want
// good nodes.
//
// A node counts as good only once it answered one of our queries (BEP 5),
// and replies list good nodes only; the library also answers with the
// nodes of a few of its buckets only (Server.closestNodes walks from the
// target's bucket toward the far ones). So a small network needs help to
// become a full mesh: once all have joined, each joins again, now starting
// from every node that contacted it.
func startNetwork(t *testing.T, size, want int) []*Node {
	t.Helper()
	var nodes []*Node
	var addrs []netip.AddrPort
	for range size {
		n := openNode(t, testConfig(addrs...))
		nodes, addrs = append(nodes, n), append(addrs, n.Addr())
	}
	for _, n := range nodes {
		<-n.bootstrapped
	}
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(n.join)
	}
	wg.Wait()
	eventually(t, 15*time.Second, func() bool {
		for _, n := range nodes {
			if n.Stats().GoodNodes < want {
				return false
			}
		}
		return true
	}, func() string {
		s := "good/known nodes per node:"
		for _, n := range nodes {
			st := n.Stats()
			s += fmt.Sprintf(" %v:%d/%d", n.Addr(), st.GoodNodes, st.Nodes)
		}
		return s
	})
	return nodes
}

// eventually polls cond until it holds, failing the test with what()
// after timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("not after %v: %s", timeout, what())
		case <-tick.C:
		}
	}
}
