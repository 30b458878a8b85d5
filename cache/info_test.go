package cache

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"testing"

	"github.com/btfs/btfs/bencode"
	"github.com/btfs/btfs/metainfo"
	"github.com/dgraph-io/badger/v4"
)

// infoOf returns tt as a real info dictionary named name, its info-hash,
// and its parsed form: what a magnet link's fetch hands over.
func infoOf(t *testing.T, tt *torrent, name string) ([]byte, metainfo.Hash, *metainfo.Info) {
	t.Helper()
	b, err := bencode.Marshal(map[string]any{
		"length": tt.info.Length, "name": name, "piece length": tt.info.PieceLength, "pieces": tt.info.Pieces,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := sha1.Sum(b)
	info, err := metainfo.ParseInfo(b, h)
	if err != nil {
		t.Fatal(err)
	}
	return b, h, info
}

// A kept info comes back as it went in, across restarts, and names its
// torrent in List even with no piece stored; Remove forgets it.
func TestInfoKept(t *testing.T) {
	dir := t.TempDir()
	tt := newTorrent(50, 32<<10, 100<<10)
	raw, h, info := infoOf(t, tt, "magnet-show")
	c := open(t, dir, Options{MaxSize: MinMaxSize})
	if _, err := c.Info(h); !isNotStored(err) {
		t.Fatalf("Info before PutInfo: %v", err)
	}
	if err := c.PutInfo(metainfo.Hash{1}, raw); err == nil {
		t.Fatal("PutInfo under another info-hash worked")
	}
	if err := c.PutInfo(h, raw); err != nil {
		t.Fatal(err)
	}
	checkInfo := func(when string) {
		t.Helper()
		got, err := c.Info(h)
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("Info %s: %v (%d bytes, want %d)", when, err, len(got), len(raw))
		}
		l := c.List()
		if len(l) != 1 || l[0].Hash != h || l[0].Name != "magnet-show" || l[0].NumPieces != 4 {
			t.Fatalf("List %s: %+v", when, l)
		}
	}
	checkInfo("after PutInfo")
	c.Close()
	c = open(t, dir, Options{MaxSize: MinMaxSize})
	checkInfo("after a restart, with no piece")

	tt.hash = h
	write(t, c.Torrent(h, info), tt, 0, 3)
	c.Close()
	c = open(t, dir, Options{MaxSize: MinMaxSize})
	checkInfo("after a restart, with pieces")
	if l := c.List(); l[0].Pieces != 2 {
		t.Fatalf("List: %+v, want 2 pieces", l)
	}
	if err := c.Remove(h); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(h); !isNotStored(err) {
		t.Fatalf("Info after Remove: %v", err)
	}
	c.Close()
	c = open(t, dir, Options{MaxSize: MinMaxSize})
	if l := c.List(); len(l) != 0 {
		t.Fatalf("List after Remove and a restart: %+v", l)
	}
}

// An info that no longer hashes to its info-hash is never returned: it is
// reported corrupt once, and dropped.
func TestInfoCorrupt(t *testing.T) {
	tt := newTorrent(51, 32<<10, 64<<10)
	raw, h, _ := infoOf(t, tt, "damaged")
	c := open(t, t.TempDir(), Options{MaxSize: MinMaxSize})
	if err := c.PutInfo(h, raw); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(raw)
	bad[len(bad)/2] ^= 1
	if err := c.update(func(txn *badger.Txn) error { return txn.Set(torrentKey(prefixInfo, h), bad) }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(h); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Info of a damaged info: %v", err)
	}
	if _, err := c.Info(h); !isNotStored(err) {
		t.Fatalf("Info after the damage was found: %v", err)
	}
}
