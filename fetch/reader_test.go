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

// A reader fetches exactly what is read, its readahead, and the file's head
// and tail, not the whole torrent, and returns the right bytes.
func TestReaderFetchesOnDemand(t *testing.T) {
	mi, src := makeContent(t, 32<<20, 64<<10)
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
	allowed := map[int]bool{}
	allow := func(off, n int64) {
		first, end := mi.Info.PieceRange(off, min(n, mi.Info.Length-off))
		for i := first; i < end; i++ {
			allowed[i] = true
		}
	}
	allow(0, headBytes)
	allow(mi.Info.Length-tailBytes, tailBytes)
	rng := rand.New(rand.NewPCG(4, 4))
	for range 5 {
		off := rng.Int64N(mi.Info.Length)
		buf := make([]byte, rng.IntN(100000)+1)
		n, err := r.ReadAt(ctx, buf, off)
		want := data[off:min(off+int64(len(buf)), mi.Info.Length)]
		if err != nil || !bytes.Equal(buf[:n], want) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", off, len(buf), n, err)
		}
		allow(off, int64(n)+minReadahead)
	}
	if len(allowed) > mi.Info.NumPieces()/2 {
		t.Fatalf("test too weak: %d of %d pieces may be fetched", len(allowed), mi.Info.NumPieces())
	}
	for i := range mi.Info.NumPieces() {
		if mounter.t.have.has(i) && !allowed[i] {
			t.Fatalf("piece %d was fetched; nothing read, read ahead, nor a head or tail holds it", i)
		}
	}
}

// A read whose context ends stops waiting (withdraw_test.go: and stops
// asking).
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
