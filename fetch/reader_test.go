package fetch

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A reader fetches exactly what is read (and a little readahead), not the
// whole torrent, and returns the right bytes.
func TestReaderFetchesOnDemand(t *testing.T) {
	mi, src := makeContent(t, 8<<20, 64<<10)
	data, err := os.ReadFile(filepath.Join(src, "content.bin"))
	if err != nil {
		t.Fatal(err)
	}
	seeder := startNode(t, mi, src, true, nil)
	mounter := startNode(t, mi, t.TempDir(), false, func(c *Config) { c.WantAll = false })
	mounter.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})

	r := mounter.t.NewReader(0, mi.Info.Length, 1<<20)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rng := rand.New(rand.NewPCG(4, 4))
	for range 20 {
		off := rng.Int64N(mi.Info.Length)
		buf := make([]byte, rng.IntN(100000)+1)
		n, err := r.ReadAt(ctx, buf, off)
		want := data[off:min(off+int64(len(buf)), mi.Info.Length)]
		if err != nil || !bytes.Equal(buf[:n], want) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", off, len(buf), n, err)
		}
	}
	s, err := mounter.t.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Have == 0 || s.Have > s.Pieces*3/4 {
		t.Fatalf("%d of %d pieces fetched for 20 small reads", s.Have, s.Pieces)
	}
}

// A read whose context ends stops waiting; the piece still arrives.
func TestReaderWaitEndsWithContext(t *testing.T) {
	mi, _ := makeContent(t, 1<<20, 64<<10)
	lonely := startNode(t, mi, t.TempDir(), false, func(c *Config) { c.WantAll = false })
	r := lonely.t.NewReader(0, mi.Info.Length, 0)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := r.ReadAt(ctx, make([]byte, 10), 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read with no peers: %v", err)
	}
}
