package cache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
)

func TestChunkLayout(t *testing.T) {
	for _, n := range []int{1, 63, 64, 100, 127, 128, 16383, 16384, 16385, 65536, 70000, 256 << 10, 1 << 20, 2097151, 16 << 20} {
		front, total := chunkLayout(n)
		h := vlogFixedLen + uvarintLen(vlogKeyLen) + uvarintLen(total)
		if (vlogFileHeader+h+vlogKeyLen+front)%vlogAlign != 0 || (h+vlogKeyLen+total+vlogCRCLen)%vlogAlign != 0 {
			t.Errorf("n=%d: front %d, total %d: misaligned", n, front, total)
		}
		if front < 0 || total < front+n || total-n >= 2*vlogAlign {
			t.Errorf("n=%d: front %d, total %d", n, front, total)
		}
	}
}

// checkAligned asserts that every chunk of tt stored in the value log
// starts on a vlogAlign boundary in memory.
func checkAligned(t *testing.T, c *Cache, tt *torrent, pieces []int) {
	t.Helper()
	s := c.Torrent(tt.hash, tt.info)
	checked := 0
	err := c.view(func(txn *badger.Txn) error {
		var key [chunkKeyLen]byte
		for _, p := range pieces {
			size := tt.info.PieceSize(p)
			for chunk := range c.numChunks(size) {
				n := int(min(int64(c.chunkSize), size-int64(chunk)*int64(c.chunkSize)))
				front, total := chunkLayout(n)
				if total < valueThreshold {
					continue // kept in the LSM tree, copied anyway
				}
				putChunkKey(key[:], s.hash, p, chunk)
				item, err := txn.Get(key[:])
				if err != nil {
					return err
				}
				err = item.Value(func(v []byte) error {
					if addr := uintptr(unsafe.Pointer(&v[front])); addr%vlogAlign != 0 {
						t.Errorf("piece %d chunk %d (%d bytes) starts at %#x: not %d-byte aligned; "+
							"badger's value-log encoding changed? reads are ~40%% slower until chunkLayout follows it",
							p, chunk, n, addr, vlogAlign)
					}
					checked++
					return nil
				})
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil || checked == 0 {
		t.Fatalf("checked %d chunks: %v", checked, err)
	}
}

func TestAlignment(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, Options{MaxSize: 64 << 20, chunkSize: 64 << 10})
	// Odd sizes: a 100000-byte piece (a 34464-byte last chunk), a short
	// last piece with a 2000-byte last chunk, and a 300-byte piece that
	// stays in the LSM tree.
	a := newTorrent(80, 100000, 20*100000+2000)
	b := newTorrent(81, 256<<10, 24<<20)
	tiny := newTorrent(82, 16<<10, 300)
	write(t, c.Torrent(tiny.hash, tiny.info), tiny, 0)
	for i := range 21 { // interleaved, so that a and b share value-log files
		write(t, c.Torrent(a.hash, a.info), a, i)
		write(t, c.Torrent(b.hash, b.info), b, pieceList(96)[i*4:i*4+4]...)
	}
	checkAligned(t, c, a, pieceList(21))
	checkAligned(t, c, b, pieceList(84))
	// GC moves a's chunks when b's are gone from the files they share.
	if err := c.Remove(b.hash); err != nil {
		t.Fatal(err)
	}
	if err := c.Compact(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "000001.vlog")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("GC left the first value-log file (%v): the test does not test moved entries", err)
	}
	checkAligned(t, c, a, pieceList(21))
	s := c.Torrent(a.hash, a.info)
	for i := range 21 {
		checkPiece(t, s, a, i)
	}
	checkPiece(t, c.Torrent(tiny.hash, tiny.info), tiny, 0)
}
