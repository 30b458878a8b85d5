package fetch

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/wait"
)

// stalledStore holds every write until released: a storage that is slow
// to take a piece (a cache syncing a full value-log file, a busy disk).
type stalledStore struct {
	Storage
	release chan struct{}
}

func (s *stalledStore) WritePiece(piece int, blocks [][]byte) error {
	<-s.release
	return s.Storage.WritePiece(piece, blocks)
}

// A read is served as soon as its piece is verified, while the storage is
// still writing it; the piece counts as had once the write has ended.
func TestReadServedBeforeTheWriteEnds(t *testing.T) {
	mi, src := makeContent(t, 1<<20, 64<<10)
	data, err := os.ReadFile(filepath.Join(src, "content.bin"))
	if err != nil {
		t.Fatal(err)
	}
	seeder := startNode(t, mi, src, true, nil)
	store := &stalledStore{release: make(chan struct{})}
	mounter := startNode(t, mi, t.TempDir(), false, func(c *Config) {
		c.WantAll = false
		store.Storage = c.Storage
		c.Storage = store
	})
	released := false
	defer func() {
		if !released {
			close(store.release)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mounter.t.AddPeers(ctx, []netip.AddrPort{seeder.addr})
	r := mounter.t.NewReader(0, int64(len(data)), 0)
	defer r.Close()
	buf := make([]byte, 5000)
	if _, err := r.ReadAt(ctx, buf, 70000); err != nil || !bytes.Equal(buf, data[70000:75000]) {
		t.Fatalf("read while the write is held: %v", err)
	}
	if mounter.t.have.has(1) {
		t.Fatal("piece 1 counted as had before its write ended")
	}
	close(store.release)
	released = true
	wait.For(t, "piece 1 to be stored", 10*time.Second, func() bool { return mounter.t.have.has(1) })
	if _, err := r.ReadAt(ctx, buf, 70000); err != nil || !bytes.Equal(buf, data[70000:75000]) {
		t.Fatalf("read after the write: %v", err)
	}
}
