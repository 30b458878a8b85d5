package fetch

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btfs/btfs/fetch/picker"
	"github.com/btfs/btfs/internal/wait"
)

// refusingStore is a seeder's storage that can stop serving: its reads
// fail, so the requests it gets go unanswered.
type refusingStore struct {
	Storage
	refuse atomic.Bool
}

func (s *refusingStore) ReadAt(p []byte, piece int, off int64) error {
	if s.refuse.Load() {
		return errors.New("refusing")
	}
	return s.Storage.ReadAt(p, piece, off)
}

// priorityOf reads piece i's priority and whether we have it, on the loop.
func priorityOf(t *testing.T, tor *Torrent, i int) (picker.Priority, bool) {
	t.Helper()
	var pr picker.Priority
	var have bool
	if err := tor.do(context.Background(), func() { pr, have = tor.picker.Priority(i), tor.picker.Have(i) }); err != nil {
		t.Fatal(err)
	}
	return pr, have
}

// A piece that arrived in a reader's readahead, was evicted, and is then
// claimed by a second reader stays wanted when the first reader's
// readahead moves away: the first reader's release takes back its own
// claim only, never the second's.
func TestEvictedPieceKeepsNewerReadersClaim(t *testing.T) {
	mi, src := makeContent(t, 8<<20, 64<<10) // head 0-63, middle 64-95, tail 96-127
	data, err := os.ReadFile(filepath.Join(src, "content.bin"))
	if err != nil {
		t.Fatal(err)
	}
	var seed *refusingStore
	seeder := startNode(t, mi, src, true, func(c *Config) {
		seed = &refusingStore{Storage: c.Storage}
		c.Storage = seed
	})
	var store *flakyStore
	mounter := startNode(t, mi, t.TempDir(), false, func(c *Config) {
		c.WantAll = false
		store = newFlakyStore(c.Storage)
		c.Storage = store
	})
	tor := mounter.t
	tor.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
	const piece = 70
	mid := int64(64) << 16

	a := tor.NewReader(0, mi.Info.Length, 1<<20)
	defer a.Close()
	readAndCompare(t, a, data, mid, 10) // a's readahead: pieces 64-80
	wait.For(t, "a's readahead and head to arrive", 30*time.Second, func() bool { return tor.have.has(piece) && tor.have.has(0) })
	seed.refuse.Store(true) // nothing arrives from now on
	store.drop(piece, true)
	wait.For(t, "the engine to forget the evicted piece", 10*time.Second, func() bool { return !tor.have.has(piece) })

	b := tor.NewReader(0, mi.Info.Length, 1<<20)
	defer b.Close()
	readAndCompare(t, b, data, mid, 10) // b's readahead: pieces 64-80 too
	if pr, have := priorityOf(t, tor, piece); have || pr != picker.Readahead {
		t.Fatalf("piece %d after b claimed it: priority %v, have %v; want Readahead, missing", piece, pr, have)
	}
	readAndCompare(t, a, data, 0, 10) // a seeks to its head: its readahead leaves piece 70
	if pr, have := priorityOf(t, tor, piece); have || pr != picker.Readahead {
		t.Fatalf("piece %d after a's readahead left it: priority %v, have %v; want Readahead (b still reads ahead into it)", piece, pr, have)
	}
}

// A read of several missing pieces registers a wait for each in one trip;
// when it is cancelled, or its reader closes, all of them are withdrawn
// and none of its pieces stays Urgent.
func TestGivenUpReadWithdrawsAllItsWaits(t *testing.T) {
	mi, _ := makeContent(t, 1<<20, 64<<10)
	lonely := startNode(t, mi, t.TempDir(), false, func(c *Config) { c.WantAll = false })
	tor := lonely.t
	r := tor.NewReader(0, mi.Info.Length, 0)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { _, err := r.ReadAt(ctx, make([]byte, 3<<16), 4<<16); errs <- err }() // pieces 4-6
	wait.For(t, "three waits", 10*time.Second, func() bool { w, u := waitState(t, tor); return w == 3 && u == 3 })
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled read: %v", err)
	}
	if w, u := waitState(t, tor); w != 0 || u != 0 {
		t.Fatalf("after the read was cancelled: %d waiting, %d urgent; want none", w, u)
	}
	go func() { _, err := r.ReadAt(context.Background(), make([]byte, 2<<16), 8<<16); errs <- err }() // pieces 8-9
	wait.For(t, "two waits", 10*time.Second, func() bool { w, u := waitState(t, tor); return w == 2 && u == 2 })
	r.Close()
	if err := <-errs; !errors.Is(err, ErrReaderClosed) {
		t.Fatalf("the read of the closed reader: %v", err)
	}
	if w, u := waitState(t, tor); w != 0 || u != 0 {
		t.Fatalf("after the reader closed: %d waiting, %d urgent; want none", w, u)
	}
}
