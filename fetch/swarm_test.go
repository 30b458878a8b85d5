package fetch

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/btfs/btfs/filestore"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

// node is one in-process client of a loopback swarm: a torrent, its
// storage and its listener.
type node struct {
	t    *Torrent
	ln   *Listener
	dir  string
	addr netip.AddrPort
}

// makeContent writes size random bytes as one file and returns its torrent.
func makeContent(t *testing.T, size int, pieceLength int64) (*metainfo.MetaInfo, string) {
	t.Helper()
	dir := t.TempDir()
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(uint64(size), 9))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(filepath.Join(dir, "content.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	mi, err := metainfo.Create(context.Background(), filepath.Join(dir, "content.bin"), metainfo.CreateOptions{PieceLength: pieceLength})
	if err != nil {
		t.Fatal(err)
	}
	return mi, dir
}

// startNode runs a torrent on loopback until the test ends. A seeder's dir
// holds the content; a leecher starts empty.
func startNode(t *testing.T, mi *metainfo.MetaInfo, dir string, seed bool, tweak func(*Config)) *node {
	t.Helper()
	return startNodeOn(t, "127.0.0.1", mi, dir, seed, tweak)
}

// startNodeOn is startNode listening on the loopback address ip, so that
// its peers see it as a host of its own.
func startNodeOn(t *testing.T, ip string, mi *metainfo.MetaInfo, dir string, seed bool, tweak func(*Config)) *node {
	t.Helper()
	return startNodeWith(t, ip, mi, dir, seed, tweak, nil)
}

// startNodeWith is startNodeOn whose listener passes connections through up
// (a transport's encryption).
func startNodeWith(t *testing.T, ip string, mi *metainfo.MetaInfo, dir string, seed bool, tweak func(*Config), up Upgrade) *node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store := filestore.Open(dir, &mi.Info, !seed)
	cfg := Config{
		Info: &mi.Info, InfoHash: mi.InfoHash, PeerID: wire.NewPeerID("-BT0000-"), Storage: store,
		WantAll: !seed, Logger: testLogger(t),
	}
	if seed {
		res, err := Check(ctx, &mi.Info, store, nil)
		if err != nil || !res.Have.Full() {
			t.Fatalf("seeder check: %v, first bad %d: %v", err, res.FirstBad, res.BadErr)
		}
		cfg.Have = res.Have
	}
	tcp, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(tcp, up, nil)
	cfg.ListenPort = ln.Port()
	if tweak != nil {
		tweak(&cfg)
	}
	tor := New(cfg)
	ln.Add(tor)
	var wg sync.WaitGroup
	wg.Go(func() { ln.Serve(ctx) })
	wg.Go(func() { tor.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		store.Close()
	})
	return &node{t: tor, ln: ln, dir: dir, addr: netip.MustParseAddrPort(ln.Addr().String())}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func waitDone(t *testing.T, n *node, within time.Duration) {
	t.Helper()
	select {
	case <-n.t.Done():
	case <-time.After(within):
		t.Fatalf("download not complete after %v", within)
	}
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
		t.Fatalf("%s and %s differ (%v, %v; %d vs %d bytes)", a, b, err1, err2, len(x), len(y))
	}
}

func TestDownloadFromOneSeeder(t *testing.T) {
	mi, src := makeContent(t, 3<<20+1234, 64<<10)
	seeder := startNode(t, mi, src, true, nil)
	leecher := startNode(t, mi, t.TempDir(), false, nil)
	leecher.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
	waitDone(t, leecher, 30*time.Second)
	sameFile(t, filepath.Join(src, "content.bin"), filepath.Join(leecher.dir, "content.bin"))
}

func TestSwarmLeecherBecomesSeeder(t *testing.T) {
	mi, src := makeContent(t, 2<<20, 32<<10)
	seeders := []*node{startNode(t, mi, src, true, nil), startNode(t, mi, src, true, nil)}
	first := startNode(t, mi, t.TempDir(), false, nil)
	first.t.AddPeers(context.Background(), []netip.AddrPort{seeders[0].addr, seeders[1].addr})
	waitDone(t, first, 30*time.Second)
	// The second leecher knows only the first, which must now seed.
	second := startNode(t, mi, t.TempDir(), false, nil)
	second.t.AddPeers(context.Background(), []netip.AddrPort{first.addr})
	waitDone(t, second, 30*time.Second)
	sameFile(t, filepath.Join(src, "content.bin"), filepath.Join(second.dir, "content.bin"))
}
