package fetch

import (
	"context"
	"fmt"
	"github.com/btfs/btfs/internal/wait"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/btfs/btfs/fetch/picker"
	"golang.org/x/time/rate"
)

// A seek withdraws the requests of the readahead it leaves behind (CANCEL to
// the peers), so the bandwidth goes to the new position at once; and an
// opened file's head and tail are fetched without being read.
func TestSeekCancelsStaleReadahead(t *testing.T) {
	mi, src := makeContent(t, 16<<20, 64<<10)
	data, err := os.ReadFile(filepath.Join(src, "content.bin"))
	if err != nil {
		t.Fatal(err)
	}
	// A slow seeder keeps requests in flight long enough to see them.
	limit := NewRateLimit(1 << 20)
	seeder := startNode(t, mi, src, true, func(c *Config) { c.UploadLimit = limit })
	mounter := startNode(t, mi, t.TempDir(), false, func(c *Config) { c.WantAll = false })
	mounter.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
	r := mounter.t.NewReader(0, mi.Info.Length, 8<<20)
	defer r.Close()

	// Between the head (4 MiB) and the tail (the last 2 MiB): readahead
	// follows 6 MiB, then the reader jumps to 10 MiB.
	readAndCompare(t, r, data, 6<<20, 4096)
	readAndCompare(t, r, data, 10<<20, 4096)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stray []string
	var cancelled int64
	err = mounter.t.do(ctx, func() {
		cancelled = mounter.t.cancelled
		for p := range mounter.t.peers {
			for b := range p.inflight {
				if mounter.t.picker.Priority(b.Piece) == picker.None {
					stray = append(stray, fmt.Sprintf("%d/%d", b.Piece, b.Index))
				}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if cancelled == 0 {
		t.Fatal("the seek withdrew no request")
	}
	if len(stray) > 0 {
		t.Fatalf("after the seek, %d requests are still out for pieces nobody wants: %v", len(stray), stray)
	}

	limit.SetLimit(rate.Inf)
	last := mi.Info.NumPieces() - 1
	wait.For(t, "the file's last piece (its tail)", 10*time.Second, func() bool { return mounter.t.have.has(last) })
	if mounter.t.have.has(5 << 4) { // 5 MiB: neither head, tail, nor near a read
		t.Fatal("a piece nobody asked for was fetched")
	}
}
