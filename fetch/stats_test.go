package fetch

import (
	"context"
	"github.com/btfs/btfs/internal/wait"
	"net/netip"
	"testing"
	"time"
)

// Stats counts what a reader caused: pieces verified, reads that waited
// (misses) and reads served at once (hits); the bitfield and the reader's
// readahead say where it stands; peers are counted by how they choke.
func TestStatsAfterReads(t *testing.T) {
	mi, src := makeContent(t, 4<<20, 64<<10)
	seeder := startNode(t, mi, src, true, nil)
	mounter := startNode(t, mi, t.TempDir(), false, func(c *Config) { c.WantAll = false })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before, err := mounter.t.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before.Verified != 0 || before.CacheHits != 0 || before.CacheMisses != 0 || before.Announcing {
		t.Fatalf("before any read: %+v", before)
	}
	mounter.t.AddPeers(ctx, []netip.AddrPort{seeder.addr})

	r := mounter.t.NewReader(0, mi.Info.Length, 1<<20)
	defer r.Close()
	if pos, ahead := r.Readahead(); pos != 0 || ahead != 0 {
		t.Fatalf("readahead before a read: %d, %d", pos, ahead)
	}
	buf := make([]byte, 100000)
	if _, err := r.ReadAt(ctx, buf, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(ctx, buf[:1000], 10); err != nil { // the same pieces again: a hit
		t.Fatal(err)
	}
	// A read returns once its pieces are verified, before they are stored
	// (landing.go); they count as verified once stored.
	var s Stats
	wait.For(t, "the pieces read to be stored", 10*time.Second, func() bool {
		s, err = mounter.t.Stats(ctx)
		return err == nil && s.Verified >= 2
	})
	if s.Verified < 2 || s.Failed != 0 || s.CacheMisses < 1 || s.CacheHits < 1 || s.Downloaded < 100000 ||
		s.Peers != 1 || s.Seeders != 1 || s.Choked != 1 || s.Have != int(s.Verified) {
		t.Fatalf("after reads: %+v", s)
	}
	have := mounter.t.HaveBitfield()
	if !have.Has(0) || !have.Has(1) || have.Count() < s.Have { // readahead may have brought more since
		t.Fatalf("bitfield holds %d pieces, stats %d", have.Count(), s.Have)
	}
	pos, ahead := r.Readahead()
	if pos != 1010 || ahead <= 0 || pos+ahead > mi.Info.Length {
		t.Fatalf("readahead after reading to 1010: %d, %d", pos, ahead)
	}
	r.Close()
	if _, ahead := r.Readahead(); ahead != 0 {
		t.Fatalf("readahead after Close: %d", ahead)
	}
}
