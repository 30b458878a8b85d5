package cache

import (
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// Open repairs what a crash in the middle of a drop could leave: a piece
// missing some of its chunks, pieces without their torrent's metadata.
func TestIndexRepair(t *testing.T) {
	dir := t.TempDir()
	tt := newTorrent(100, 600<<10, 4*(600<<10))
	orphan := newTorrent(101, 64<<10, 64<<10)
	c := open(t, dir, Options{MaxSize: 64 << 20})
	write(t, c.Torrent(tt.hash, tt.info), tt, 0, 1, 2, 3)
	err := c.update(func(txn *badger.Txn) error {
		var lost, stray [chunkKeyLen]byte   // badger keeps the slices until commit
		putChunkKey(lost[:], tt.hash, 2, 1) // piece 2 loses its middle chunk
		if err := txn.Delete(lost[:]); err != nil {
			return err
		}
		putChunkKey(stray[:], orphan.hash, 0, 0)
		return txn.Set(stray[:], make([]byte, 4096))
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	c = open(t, dir, Options{MaxSize: 64 << 20})
	l := c.List()
	if len(l) != 1 || l[0].Hash != tt.hash || l[0].Pieces != 3 {
		t.Fatalf("List after repair: %+v", l)
	}
	s := c.Torrent(tt.hash, tt.info)
	if h := s.Have(); h.Has(2) || h.Count() != 3 {
		t.Fatalf("Have after repair: %d pieces, has 2: %v", h.Count(), h.Has(2))
	}
	for _, i := range []int{0, 1, 3} {
		checkPiece(t, s, tt, i)
	}
	if u := c.Usage(); u.Live != 3*(600<<10) {
		t.Fatalf("live %d, want %d", u.Live, 3*(600<<10))
	}
	// The repair is on disk: the next Open finds nothing to fix.
	c.Close()
	c = open(t, dir, Options{MaxSize: 64 << 20})
	if l := c.List(); len(l) != 1 || l[0].Pieces != 3 {
		t.Fatalf("List after a second Open: %+v", l)
	}
}

// Pieces stored under different piece arithmetic than the info given
// (a damaged metadata record) are dropped rather than served.
func TestTorrentInfoMismatch(t *testing.T) {
	c := open(t, t.TempDir(), Options{MaxSize: 64 << 20})
	tt := newTorrent(102, 64<<10, 8*(64<<10))
	write(t, c.Torrent(tt.hash, tt.info), tt, 0, 1)
	other := newTorrent(102, 32<<10, 8*(64<<10)) // same hash, other piece length
	s := c.Torrent(other.hash, other.info)
	if n := s.Have().Count(); n != 0 {
		t.Fatalf("%d pieces kept across a change of piece length", n)
	}
	if u := c.Usage(); u.Live != 0 {
		t.Fatalf("live %d", u.Live)
	}
	write(t, s, other, 3)
	checkPiece(t, s, other, 3)
}
