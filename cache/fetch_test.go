package cache

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/wire"
)

// peer runs a fetch engine over a TorrentStore on loopback until the test
// ends.
func peer(t *testing.T, tt *torrent, s *TorrentStore, wantAll bool) (*fetch.Torrent, netip.AddrPort) {
	t.Helper()
	ln, err := fetch.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	tor := fetch.New(fetch.Config{
		Info: tt.info, InfoHash: tt.hash, PeerID: wire.NewPeerID("-BT0000-"), Storage: s, Have: s.Have(),
		WantAll: wantAll, ListenPort: ln.Port(), Logger: testLogger(t),
	})
	ln.Add(tor)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { ln.Serve(ctx) })
	wg.Go(func() { tor.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return tor, netip.MustParseAddrPort(ln.Addr().String())
}

// Two seeders, each serving half of a torrent from its cache, are enough
// for a leecher to complete it: the bitfield the engine sends is the
// cache's Have, and uploads read from the cache.
func TestSeedFromPartialCaches(t *testing.T) {
	tt := newTorrent(90, 64<<10, 16*(64<<10))
	var seeders []netip.AddrPort
	for half := range 2 {
		c := open(t, t.TempDir(), Options{MaxSize: MinMaxSize})
		s := c.Torrent(tt.hash, tt.info)
		write(t, s, tt, pieceList(16)[half*8:half*8+8]...)
		_, addr := peer(t, tt, s, false)
		seeders = append(seeders, addr)
	}
	c := open(t, t.TempDir(), Options{MaxSize: MinMaxSize})
	s := c.Torrent(tt.hash, tt.info)
	leecher, _ := peer(t, tt, s, true)
	leecher.AddPeers(context.Background(), seeders)
	select {
	case <-leecher.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("leecher has %d of 16 pieces after 30 s", s.Have().Count())
	}
	for i := range 16 {
		checkPiece(t, s, tt, i)
	}
}
