package fetch

import (
	"context"
	"github.com/btfs/btfs/internal/wait"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A mount stays interested in a seeder after its reads are served, though
// it wants nothing at the moment: peers choke those that lose interest and
// unchoke only at their next round, which the next read would wait out.
func TestMountStaysInterested(t *testing.T) {
	mi, src := makeContent(t, 16<<20, 64<<10)
	data, err := os.ReadFile(filepath.Join(src, "content.bin"))
	if err != nil {
		t.Fatal(err)
	}
	seeder := startNode(t, mi, src, true, nil)
	mounter := startNode(t, mi, t.TempDir(), false, func(c *Config) { c.WantAll = false })
	mounter.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
	r := mounter.t.NewReader(0, mi.Info.Length, 0)
	defer r.Close()
	readAndCompare(t, r, data, 8<<20, 1000)

	var idle, interested bool
	wait.For(t, "the mount's requests to drain", 10*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		mounter.t.do(ctx, func() {
			for p := range mounter.t.peers {
				idle, interested = len(p.inflight) == 0, p.amInterested
			}
		})
		return idle
	})
	if !interested {
		t.Fatal("the mount told the seeder it was not interested once its reads were served")
	}
}
