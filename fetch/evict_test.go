package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/btfs/btfs/internal/wait"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btfs/btfs/fetch/picker"
)

// flakyStore wraps a Storage with the failures of a bounded cache on a
// small disk: pieces it drops (and says so through Evictor), and writes it
// refuses while full.
type flakyStore struct {
	Storage
	evictedCh chan struct{}

	mu      sync.Mutex
	dropped map[int]bool
	evicted []int
	full    bool
	writes  map[int]int
}

func newFlakyStore(st Storage) *flakyStore {
	return &flakyStore{Storage: st, evictedCh: make(chan struct{}, 1), dropped: map[int]bool{}, writes: map[int]int{}}
}

func (s *flakyStore) ReadAt(p []byte, piece int, off int64) error {
	s.mu.Lock()
	gone := s.dropped[piece]
	s.mu.Unlock()
	if gone {
		return fmt.Errorf("piece %d is not stored", piece)
	}
	return s.Storage.ReadAt(p, piece, off)
}

func (s *flakyStore) WritePiece(piece int, blocks [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes[piece]++
	if s.full {
		return fmt.Errorf("write piece %d: %w", piece, syscall.ENOSPC)
	}
	delete(s.dropped, piece)
	return s.Storage.WritePiece(piece, blocks)
}

// drop forgets piece; signal says whether the engine is told at once (a
// cache evicting) or only finds out on reading it (a damaged piece).
func (s *flakyStore) drop(piece int, signal bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropped[piece] = true
	s.evicted = append(s.evicted, piece)
	if signal {
		select {
		case s.evictedCh <- struct{}{}:
		default:
		}
	}
}

func (s *flakyStore) setFull(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.full = v
}

// writesOf is how often piece was offered to the storage, stored or not.
func (s *flakyStore) writesOf(piece int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes[piece]
}

func (s *flakyStore) Evicted() <-chan struct{} { return s.evictedCh }

func (s *flakyStore) TakeEvicted() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.evicted
	s.evicted = nil
	return out
}

// startFlakyMount starts a mount-like node (fetching only what is read)
// over a flakyStore, connected to a seeder of the same content.
func startFlakyMount(t *testing.T, size int) (*node, *flakyStore, []byte) {
	t.Helper()
	mi, src := makeContent(t, size, 64<<10)
	data, err := os.ReadFile(filepath.Join(src, "content.bin"))
	if err != nil {
		t.Fatal(err)
	}
	seeder := startNode(t, mi, src, true, nil)
	var store *flakyStore
	mounter := startNode(t, mi, t.TempDir(), false, func(c *Config) {
		c.WantAll = false
		store = newFlakyStore(c.Storage)
		c.Storage = store
	})
	mounter.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
	return mounter, store, data
}

func readAndCompare(t *testing.T, r *Reader, data []byte, off int64, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	buf := make([]byte, n)
	got, err := r.ReadAt(ctx, buf, off)
	if err != nil || !bytes.Equal(buf[:got], data[off:off+int64(n)]) {
		t.Fatalf("ReadAt(%d, %d) = %d, %v", off, n, got, err)
	}
}

// A piece the storage drops is fetched again when it is read next, whether
// the storage said so first or the read is how the engine finds out.
func TestEvictedPiecesAreFetchedAgain(t *testing.T) {
	for _, signal := range []bool{true, false} {
		t.Run(fmt.Sprintf("signalled=%v", signal), func(t *testing.T) {
			mounter, store, data := startFlakyMount(t, 1<<20)
			r := mounter.t.NewReader(0, int64(len(data)), 0)
			defer r.Close()
			readAndCompare(t, r, data, 100, 1000)
			// A read returns before its piece is stored (landing.go).
			wait.For(t, "piece 0 to be stored", 10*time.Second, func() bool { return store.writesOf(0) == 1 && mounter.t.have.has(0) })
			store.drop(0, signal)
			if signal { // the engine forgets the piece by itself, and the reader's readahead, which holds it, wants it again
				wait.For(t, "the engine to forget piece 0", 10*time.Second, func() bool {
					return !mounter.t.have.has(0) || store.writesOf(0) == 2
				})
			}
			readAndCompare(t, r, data, 100, 1000)
			wait.For(t, "piece 0 to be stored again", 10*time.Second, func() bool { return mounter.t.have.has(0) })
			if w := store.writesOf(0); w != 2 {
				t.Fatalf("piece 0 stored %d times, want 2 (fetched again once)", w)
			}
		})
	}
}

// With the whole torrent wanted (mount --prefetch) over a storage smaller
// than the torrent, an evicted piece is not fetched again in the
// background (which would evict another, for ever), only when read.
func TestEvictedPiecesAreNotPrefetchedAgain(t *testing.T) {
	mi, src := makeContent(t, 1<<20, 64<<10)
	seeder := startNode(t, mi, src, true, nil)
	var store *flakyStore
	n := startNode(t, mi, t.TempDir(), false, func(c *Config) {
		store = newFlakyStore(c.Storage)
		c.Storage = store
	})
	n.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
	waitDone(t, n, 30*time.Second)
	store.drop(3, true)
	wait.For(t, "the engine to forget piece 3", 10*time.Second, func() bool { return !n.t.have.has(3) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var pr picker.Priority
	if err := n.t.do(ctx, func() { pr = n.t.picker.Priority(3) }); err != nil {
		t.Fatal(err)
	}
	if pr != picker.None {
		t.Fatalf("evicted piece 3 has priority %v: it would be fetched again unread", pr)
	}
	data, err := os.ReadFile(filepath.Join(src, "content.bin"))
	if err != nil {
		t.Fatal(err)
	}
	r := n.t.NewReader(0, mi.Info.Length, 0)
	defer r.Close()
	readAndCompare(t, r, data, 3<<16, 100)
}

// A piece that arrives while the storage is full is served to the reads
// that want it from memory, exact, and is fetched once, not once per read
// of it (a 128 KiB FUSE read of a 1 MiB piece used to fetch it eight
// times, and fail every time with ENOSPC); the storage's error is reported
// on StoreErrors, and once there is room pieces are stored again.
func TestFullStorageServesFromMemory(t *testing.T) {
	mounter, store, data := startFlakyMount(t, 1<<20)
	store.setFull(true)
	r := mounter.t.NewReader(0, int64(len(data)), 0)
	defer r.Close()
	const readSize = 4 << 10 // 16 reads per 64 KiB piece
	for off := int64(0); off < int64(len(data)); off += readSize {
		readAndCompare(t, r, data, off, readSize)
	}
	for i := range len(data) >> 16 {
		if n := store.writesOf(i); n == 0 || n > 2 {
			t.Fatalf("piece %d was verified and offered to the storage %d times, want once (twice at most)", i, n)
		}
	}
	// Nothing asks for the pieces any more: no download loop on a full disk.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pr picker.Priority
	if err := mounter.t.do(ctx, func() { pr = mounter.t.picker.Priority(3) }); err != nil {
		t.Fatal(err)
	}
	if pr != picker.None {
		t.Fatalf("piece 3 still has priority %v after it could not be stored", pr)
	}
	select {
	case err := <-mounter.t.StoreErrors():
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("StoreErrors gave %v, want ENOSPC", err)
		}
	default:
		t.Fatal("StoreErrors said nothing of the failed store")
	}
	// With room again, a piece that left memory is fetched and stored.
	store.setFull(false)
	before := store.writesOf(0)
	r2 := mounter.t.NewReader(0, int64(len(data)), 0)
	defer r2.Close()
	readAndCompare(t, r2, data, 100, 100)
	if mounter.t.held.has(0) && store.writesOf(0) == before {
		return // still in memory: served from there
	}
	wait.For(t, "piece 0 to be stored", 10*time.Second, func() bool { return mounter.t.have.has(0) })
}
