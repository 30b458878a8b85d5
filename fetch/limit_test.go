package fetch

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

// A rate limit on either side holds a download to it: 1.5 MiB through a
// 512 KiB/s limit (a second's burst up front) cannot take under 2 s. The
// bound is a floor the limiter guarantees, not a measured speed.
func TestRateLimits(t *testing.T) {
	const limit = 512 << 10
	for _, side := range []string{"upload", "download"} {
		t.Run(side, func(t *testing.T) {
			t.Parallel()
			mi, src := makeContent(t, 3<<19, 64<<10)
			seeder := startNode(t, mi, src, true, func(c *Config) {
				if side == "upload" {
					c.UploadLimit = NewRateLimit(limit)
				}
			})
			start := time.Now()
			leecher := startNode(t, mi, t.TempDir(), false, func(c *Config) {
				if side == "download" {
					c.DownloadLimit = NewRateLimit(limit)
				}
			})
			leecher.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
			waitDone(t, leecher, 30*time.Second)
			if took := time.Since(start); took < 2*time.Second-100*time.Millisecond {
				t.Fatalf("1.5 MiB through a %d B/s %s limit took %v", limit, side, took)
			}
			sameFile(t, filepath.Join(src, "content.bin"), filepath.Join(leecher.dir, "content.bin"))
		})
	}
}
