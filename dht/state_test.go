package dht

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
)

// TestStateSurvivesRestart: a node saves its ID and routing table on Close;
// reopened with no bootstrap node, it has them back at once and finds a
// peer through them.
func TestStateSurvivesRestart(t *testing.T) {
	nodes := startNetwork(t, 8, 4)
	path := filepath.Join(t.TempDir(), "dht.state")
	cfg := testConfig(nodes[0].Addr())
	cfg.StateFile = path
	n := openNode(t, cfg)
	<-n.bootstrapped
	n.join() // as startNetwork does: meet the nodes beyond the first's replies
	eventually(t, 10*time.Second, func() bool { return n.Stats().GoodNodes >= 5 },
		func() string { return "the node has too few good nodes" })
	id, known := n.ID(), n.Stats().Nodes
	n.Close()

	st, err := loadState(path)
	if err != nil || st.ID != krpc.ID(id) || len(st.Nodes) < 5 {
		t.Fatalf("state file: id %x, %d nodes, %v; want id %x, %d nodes", st.ID, len(st.Nodes), err, id, known)
	}

	cfg.Bootstrap = nil
	again := openNode(t, cfg)
	if again.ID() != id {
		t.Errorf("ID %x after restart, want %x", again.ID(), id)
	}
	if got := again.Stats().Nodes; got < 5 {
		t.Fatalf("%d nodes after restart, want at least 5", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := nodes[6].Lookup(ctx, testHash, 7000, func([]netip.AddrPort) {}); err != nil {
		t.Fatal(err)
	}
	var found []netip.AddrPort
	if _, err := again.Lookup(ctx, testHash, 0, func(p []netip.AddrPort) { found = append(found, p...) }); err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParseAddrPort("127.0.0.1:7000"); !slices.Contains(found, want) {
		t.Fatalf("after restart, lookup found %v, want %v", found, want)
	}
}

func TestStateEncoding(t *testing.T) {
	var s state
	s.ID = krpc.ID{1, 2, 3}
	for i, ap := range []string{"10.0.0.1:6881", "[2001:db8::1]:51413", "127.0.0.1:1"} {
		var n krpc.NodeInfo
		n.ID[0] = byte(i + 1)
		n.Addr.FromAddrPort(netip.MustParseAddrPort(ap))
		s.Nodes = append(s.Nodes, n)
	}
	b, err := s.encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != s.ID || len(got.Nodes) != 3 {
		t.Fatalf("decoded %+v, want %+v", got, s)
	}
	for _, want := range s.Nodes {
		if !slices.ContainsFunc(got.Nodes, func(n krpc.NodeInfo) bool {
			return n.ID == want.ID && n.Addr.String() == want.Addr.String()
		}) {
			t.Errorf("node %v lost", want)
		}
	}

	for _, bad := range []string{"", "de", "d2:id3:abce", "d2:id20:aaaaaaaaaaaaaaaaaaaa5:nodes5:abcdee", "li1ee"} {
		if _, err := decodeState([]byte(bad)); err == nil {
			t.Errorf("decodeState(%q) succeeded", bad)
		}
	}
}

// TestStateFileDamaged: a missing file is a fresh start; a damaged one is
// ignored (Open still works) and replaced on Close.
func TestStateFileDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dht.state")
	if st, err := loadState(path); err != nil || st.ID != (krpc.ID{}) {
		t.Fatalf("missing file: %+v, %v", st, err)
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	seed := openNode(t, testConfig())
	cfg := testConfig(seed.Addr())
	cfg.StateFile = path
	n := openNode(t, cfg)
	<-n.bootstrapped
	n.Close()
	if st, err := loadState(path); err != nil || len(st.Nodes) != 1 {
		t.Fatalf("after Close: %d nodes, %v; want the seed", len(st.Nodes), err)
	}
}
