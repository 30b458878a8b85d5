package cache

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestReadRanges(t *testing.T) {
	c := open(t, t.TempDir(), Options{MaxSize: 64 << 20, chunkSize: 64 << 10})
	// 256 KiB pieces and a short last one of 70000 bytes: chunk edges at
	// 64 KiB, block edges at 16 KiB, and a last chunk of 4464 bytes.
	tt := newTorrent(1, 256<<10, 3*(256<<10)+70000)
	s := c.Torrent(tt.hash, tt.info)
	write(t, s, tt, 0, 1, 3)
	tests := []struct {
		piece    int
		off, n   int64
		notFound bool
	}{
		{piece: 0, off: 0, n: 256 << 10},
		{piece: 0, off: 0, n: 1},
		{piece: 0, off: 65535, n: 2},           // across a chunk edge
		{piece: 0, off: 1000, n: 200 << 10},    // across three edges
		{piece: 1, off: 64 << 10, n: 64 << 10}, // exactly one chunk
		{piece: 1, off: 256<<10 - 1, n: 1},
		{piece: 1, off: 0, n: 0},
		{piece: 3, off: 0, n: 70000},
		{piece: 3, off: 65530, n: 4470}, // into the short last chunk
		{piece: 2, off: 0, n: 10, notFound: true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("piece%d+%d+%d", tc.piece, tc.off, tc.n), func(t *testing.T) {
			got := make([]byte, tc.n)
			err := s.ReadAt(got, tc.piece, tc.off)
			if tc.notFound {
				if !isNotStored(err) {
					t.Fatalf("read of a missing piece: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.piece(tc.piece)[tc.off : tc.off+tc.n]; !bytes.Equal(got, want) {
				t.Fatal("wrong bytes")
			}
		})
	}
	for _, bad := range []struct {
		piece int
		off   int64
		n     int
	}{{0, 256 << 10, 1}, {0, -1, 1}, {3, 0, 70001}, {4, 0, 1}, {-1, 0, 1}} {
		if err := s.ReadAt(make([]byte, bad.n), bad.piece, bad.off); err == nil || isNotStored(err) {
			t.Errorf("read %+v out of range: %v", bad, err)
		}
	}
	if got, want := s.Have(), []int{0, 1, 3}; got.Count() != 3 || !got.Has(0) || !got.Has(1) || !got.Has(3) {
		t.Fatalf("Have = %v, want %v", got.Bytes(), want)
	}
}

func TestWritePieceRejects(t *testing.T) {
	c := open(t, t.TempDir(), Options{MaxSize: 64 << 20})
	tt := newTorrent(2, 32<<10, 100<<10)
	s := c.Torrent(tt.hash, tt.info)
	if err := s.WritePiece(0, [][]byte{make([]byte, 100)}); err == nil {
		t.Fatal("short piece accepted")
	}
	if err := s.WritePiece(4, [][]byte{make([]byte, 32<<10)}); err == nil {
		t.Fatal("piece out of range accepted")
	}
	// Blocks of odd sizes are assembled into chunks all the same.
	p := tt.piece(1)
	if err := s.WritePiece(1, [][]byte{p[:1], p[1:20000], {}, p[20000:]}); err != nil {
		t.Fatal(err)
	}
	checkPiece(t, s, tt, 1)
	// A second write of a stored piece is a no-op.
	write(t, s, tt, 1)
	if u := c.Usage(); u.Live != 32<<10 {
		t.Fatalf("live %d after writing one piece twice", u.Live)
	}
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	tt := newTorrent(3, 128<<10, 40*(128<<10))
	c := open(t, dir, Options{MaxSize: 64 << 20})
	write(t, c.Torrent(tt.hash, tt.info), tt, pieceList(40)...)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir, Options{MaxSize: 64 << 20})
	// The index is there before the torrent is attached: `btfs cache ls`.
	if l := c.List(); len(l) != 1 || l[0].Pieces != 40 || l[0].Bytes != 40*(128<<10) || l[0].Name != tt.info.Name {
		t.Fatalf("List after restart: %+v", l)
	}
	s := c.Torrent(tt.hash, tt.info)
	if h := s.Have(); !h.Full() {
		t.Fatalf("Have after restart: %d of 40", h.Count())
	}
	for i := range 40 {
		checkPiece(t, s, tt, i)
	}
}

func TestConcurrentReadersAndWriters(t *testing.T) {
	c := open(t, t.TempDir(), Options{MaxSize: 24 << 20})
	// 48 pieces of 1 MiB do not fit: writers evict while readers read.
	tts := []*torrent{newTorrent(4, 1<<20, 24<<20), newTorrent(5, 1<<20, 24<<20)}
	var stores []*TorrentStore
	for _, tt := range tts {
		stores = append(stores, c.Torrent(tt.hash, tt.info))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range tts {
		wg.Go(func() {
			for round := range 2 {
				for i := range 24 {
					if err := stores[w].WritePiece(i, blocks(tts[w].piece(i))); err != nil {
						errs <- fmt.Errorf("round %d write %d: %w", round, i, err)
						return
					}
				}
			}
		})
	}
	for r := range 6 {
		wg.Go(func() {
			want := make([][]byte, 24)
			tt, s := tts[r%2], stores[r%2]
			buf := make([]byte, 128<<10)
			for k := range 400 {
				i := (k*7 + r) % 24
				off := int64((k*13)%8) * (128 << 10)
				err := s.ReadAt(buf, i, off)
				if isNotStored(err) {
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("read %d: %w", i, err)
					return
				}
				if want[i] == nil {
					want[i] = tt.piece(i)
				}
				if !bytes.Equal(buf, want[i][off:off+int64(len(buf))]) {
					errs <- fmt.Errorf("read %d at %d: wrong bytes", i, off)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if u := c.Usage(); u.Live > c.liveMax {
		t.Errorf("live %d over the live bound %d", u.Live, c.liveMax)
	}
}

func TestHoldAndEvictionNotice(t *testing.T) {
	c := open(t, t.TempDir(), Options{MaxSize: MinMaxSize})
	tt := newTorrent(6, 1<<20, 40<<20)
	s := c.Torrent(tt.hash, tt.info)
	write(t, s, tt, 0, 1)
	release, ok := s.Hold(0)
	if !ok {
		t.Fatal("Hold of a stored piece failed")
	}
	if _, ok := s.Hold(5); ok {
		t.Fatal("Hold of a missing piece succeeded")
	}
	write(t, s, tt, pieceList(40)[2:]...)
	if !s.Have().Has(0) {
		t.Fatal("a held piece was evicted")
	}
	checkPiece(t, s, tt, 0)
	select {
	case <-s.Evicted():
	default:
		t.Fatal("no eviction notice")
	}
	ev := s.TakeEvicted()
	if !slices.Contains(ev, 1) || slices.Contains(ev, 0) || slices.Contains(ev, 39) {
		t.Fatalf("evicted %v: want 1 (oldest unheld), not 0 (held) nor 39 (newest)", ev)
	}
	for _, i := range ev {
		if s.Have().Has(i) {
			t.Fatalf("evicted piece %d still in Have", i)
		}
	}
	if again := s.TakeEvicted(); len(again) != 0 {
		t.Fatalf("evictions reported twice: %v", again)
	}
	release()
	release() // a second call is harmless
	c.mu.Lock()
	pins := len(s.pins)
	c.mu.Unlock()
	if pins != 0 {
		t.Fatalf("%d pins left", pins)
	}
}

func TestNoRoomWhenAllHeld(t *testing.T) {
	c := open(t, t.TempDir(), Options{MaxSize: MinMaxSize})
	tt := newTorrent(7, 1<<20, 40<<20)
	s := c.Torrent(tt.hash, tt.info)
	var i int
	for i = 0; ; i++ {
		if c.Usage().Live+(1<<20) > c.liveMax {
			break
		}
		write(t, s, tt, i)
		if _, ok := s.Hold(i); !ok {
			t.Fatal("hold")
		}
	}
	if err := s.WritePiece(i, blocks(tt.piece(i))); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("write with every piece held: %v", err)
	}
	if u := c.Usage(); u.Live != int64(i)<<20 {
		t.Fatalf("a refused write left %d live bytes, want %d", u.Live, int64(i)<<20)
	}
}

func TestClosed(t *testing.T) {
	c := open(t, t.TempDir(), Options{MaxSize: MinMaxSize})
	tt := newTorrent(8, 32<<10, 64<<10)
	s := c.Torrent(tt.hash, tt.info)
	write(t, s, tt, 0)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := s.ReadAt(make([]byte, 10), 0, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}
	if err := s.WritePiece(1, blocks(tt.piece(1))); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
}
