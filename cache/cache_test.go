package cache

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/btfs/btfs/internal/leakcheck"
	"github.com/btfs/btfs/metainfo"
)

func TestMain(m *testing.M) {
	// Badger's goroutines count too: a Cache a test forgets to close leaks them.
	os.Exit(leakcheck.Main(m, "btfs/btfs/cache.", "dgraph-io/badger"))
}

// blockSize is the size of the blocks the engine hands to WritePiece.
const blockSize = 16 << 10

// torrent is a synthetic torrent whose pieces are computed, not stored:
// piece i's bytes depend only on (seed, i).
type torrent struct {
	info *metainfo.Info
	hash metainfo.Hash
	seed uint64
}

func newTorrent(seed uint64, pieceLength, length int64) *torrent {
	tt := &torrent{seed: seed, info: &metainfo.Info{Name: "t" + string(rune('a'+seed%26)), PieceLength: pieceLength, Length: length}}
	n := int((length + pieceLength - 1) / pieceLength)
	tt.info.Pieces = make([]byte, 0, n*metainfo.HashSize)
	for i := range n {
		sum := sha1.Sum(tt.piece(i))
		tt.info.Pieces = append(tt.info.Pieces, sum[:]...)
	}
	binary.BigEndian.PutUint64(tt.hash[:], seed)
	tt.hash[19] = 0xbf
	return tt
}

func (tt *torrent) piece(i int) []byte {
	size := min(tt.info.PieceLength, tt.info.Length-int64(i)*tt.info.PieceLength)
	b := make([]byte, size)
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], tt.seed)
	binary.LittleEndian.PutUint64(seed[8:], uint64(i))
	rand.NewChaCha8(seed).Read(b)
	return b
}

// blocks splits b as the engine does: consecutive 16 KiB blocks.
func blocks(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := min(len(b), blockSize)
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func open(t testing.TB, dir string, opts Options) *Cache {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	c, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func write(t testing.TB, s *TorrentStore, tt *torrent, pieces ...int) {
	t.Helper()
	for _, i := range pieces {
		if err := s.WritePiece(i, blocks(tt.piece(i))); err != nil {
			t.Fatalf("write piece %d: %v", i, err)
		}
	}
}

// checkPiece reads piece i whole and compares it.
func checkPiece(t testing.TB, s *TorrentStore, tt *torrent, i int) {
	t.Helper()
	want := tt.piece(i)
	got := make([]byte, len(want))
	if err := s.ReadAt(got, i, 0); err != nil {
		t.Fatalf("read piece %d: %v", i, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("piece %d: wrong bytes", i)
	}
}

func pieceList(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func isNotStored(err error) bool { return errors.Is(err, ErrNotStored) }
