package cache

import (
	"errors"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/btfs/btfs/internal/bytesize"
)

func TestEvictionOrder(t *testing.T) {
	type op struct {
		kind    byte // 'w' write, 'r' read, 'h' hold, 'R' restart, 'C' crash and restart
		tor, pc int
	}
	w := func(tor, pc int) op { return op{'w', tor, pc} }
	r := func(tor, pc int) op { return op{'r', tor, pc} }
	fill := []op{w(0, 0), w(0, 1), w(0, 2), w(0, 3)}
	tests := []struct {
		name  string
		slack int64 // pieces an eviction frees beyond what it must
		ops   []op
		want  [2][]int // pieces of torrents 0 and 1 evicted
	}{
		{"oldest write goes first", 0, append(fill, w(0, 4)), [2][]int{{0}}},
		{"a read refreshes", 0, append(fill, r(0, 0), w(0, 4)), [2][]int{{1}}},
		{"least recent of several", 0, append(fill, r(0, 1), r(0, 0), w(0, 4), w(0, 5)), [2][]int{{2, 3}}},
		{"held pieces stay", 0, append(fill, op{'h', 0, 0}, w(0, 4)), [2][]int{{1}}},
		{"slack frees more", 1, append(fill, w(0, 4)), [2][]int{{0, 1}}},
		{"across torrents", 0, []op{w(0, 0), w(1, 0), w(0, 1), w(1, 1), r(0, 0), w(1, 2)}, [2][]int{nil, {0}}},
		{"reads before a restart count", 0, append(fill, r(0, 0), op{'R', 0, 0}, w(0, 4)), [2][]int{{1}}},
		{"after a restart, newer writes are newer", 0, append(fill[:3], r(0, 0), op{'R', 0, 0}, w(0, 3), r(0, 1), w(0, 4)), [2][]int{{2}}},
		{"after a crash, write order", 0, append(fill, r(0, 0), op{'C', 0, 0}, w(0, 4)), [2][]int{{0}}},
		{"after a crash, the last snapshot and write order", 0,
			append(fill[:2], r(0, 0), op{'R', 0, 0}, w(0, 2), w(0, 3), op{'C', 0, 0}, w(0, 4)), [2][]int{{1}}},
	}
	const piece = 1 << 20
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tts := []*torrent{newTorrent(20, piece, 8*piece), newTorrent(21, piece, 8*piece)}
			var c *Cache
			var stores []*TorrentStore
			reopen := func(clean bool) {
				if c != nil {
					c.close(clean)
				}
				c = open(t, dir, Options{MaxSize: 64 << 20})
				c.liveMax, c.evictSlack = 4*piece, tc.slack*piece // room for exactly four pieces
				stores = []*TorrentStore{c.Torrent(tts[0].hash, tts[0].info), c.Torrent(tts[1].hash, tts[1].info)}
			}
			reopen(true)
			for _, o := range tc.ops {
				switch o.kind {
				case 'w':
					write(t, stores[o.tor], tts[o.tor], o.pc)
				case 'r':
					checkPiece(t, stores[o.tor], tts[o.tor], o.pc)
				case 'h':
					if _, ok := stores[o.tor].Hold(o.pc); !ok {
						t.Fatal("hold failed")
					}
				case 'R', 'C':
					reopen(o.kind == 'R')
				}
			}
			for i, s := range stores {
				if got := s.TakeEvicted(); !slices.Equal(got, tc.want[i]) {
					t.Errorf("torrent %d: evicted %v, want %v", i, got, tc.want[i])
				}
				for _, p := range tc.want[i] {
					if err := s.ReadAt(make([]byte, 1), p, 0); !isNotStored(err) {
						t.Errorf("torrent %d: read of evicted piece %d: %v", i, p, err)
					}
				}
			}
		})
	}
}

// du measures dir with du(1) when it is installed, else as diskUsage does.
func du(t *testing.T, c *Cache) int64 {
	t.Helper()
	out, err := exec.Command("du", "-s", "--block-size=1", c.dir).Output()
	if err != nil {
		return c.diskUsage()
	}
	n, err := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSizeBoundOnDisk(t *testing.T) {
	const maxSize = 32 << 20
	c := open(t, t.TempDir(), Options{MaxSize: maxSize})
	// 3 torrents, 96 MiB in all: three times the bound.
	var tts []*torrent
	var stores []*TorrentStore
	for i := range 3 {
		tt := newTorrent(uint64(30+i), 512<<10, 32<<20)
		tts, stores = append(tts, tt), append(stores, c.Torrent(tt.hash, tt.info))
	}
	peak := int64(0)
	for p := range 64 {
		for i := range tts {
			write(t, stores[i], tts[i], p)
		}
		if p%8 == 7 {
			peak = max(peak, du(t, c))
		}
	}
	if err := c.Compact(); err != nil {
		t.Fatal(err)
	}
	u := c.Usage()
	d := du(t, c)
	t.Logf("live %s, du %s (peak while writing %s), bound %s", bytesize.Format(u.Live), bytesize.Format(d),
		bytesize.Format(peak), bytesize.Format(maxSize))
	if u.Live > c.liveMax || d > maxSize {
		t.Fatalf("over the bound: live %d (live bound %d), du %d", u.Live, c.liveMax, d)
	}
	// The newest pieces are the ones kept.
	for i, s := range stores {
		if !s.Have().Has(63) {
			t.Errorf("torrent %d lost its newest piece", i)
		}
		checkPiece(t, s, tts[i], 63)
	}

	// Forgetting torrents gives their space back.
	for _, tt := range tts {
		if err := c.Remove(tt.hash); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Remove(tts[0].hash); err != nil {
		t.Fatal("second Remove of an attached torrent:", err) // it stays known while attached
	}
	if err := c.Compact(); err != nil {
		t.Fatal(err)
	}
	after := du(t, c)
	t.Logf("after removing everything: du %s", bytesize.Format(after))
	// What is left: the value-log file being written (GC never takes it),
	// the memtable's log, the LSM tree, badger's small files.
	if limit := 2*c.vlogFileSize + 2*c.memTableSize + 2<<20; after > limit {
		t.Fatalf("du %d after removing everything, want at most %d", after, limit)
	}
	for _, s := range stores {
		if s.Have().Count() != 0 {
			t.Fatal("Have after Remove")
		}
	}
	if u := c.Usage(); u.Live != 0 {
		t.Fatalf("live %d after Remove", u.Live)
	}
}

func TestRemoveUnknown(t *testing.T) {
	c := open(t, t.TempDir(), Options{MaxSize: MinMaxSize})
	tt := newTorrent(40, 32<<10, 64<<10)
	if err := c.Remove(tt.hash); !errors.Is(err, ErrNotCached) {
		t.Fatalf("Remove of an unknown torrent: %v", err)
	}
}

func TestRemoveDetached(t *testing.T) {
	dir := t.TempDir()
	tt := newTorrent(41, 32<<10, 64<<10)
	c := open(t, dir, Options{MaxSize: MinMaxSize})
	write(t, c.Torrent(tt.hash, tt.info), tt, 0, 1)
	c.Close()
	c = open(t, dir, Options{MaxSize: MinMaxSize})
	if err := c.Remove(tt.hash); err != nil {
		t.Fatal(err)
	}
	if l := c.List(); len(l) != 0 {
		t.Fatalf("List after Remove: %+v", l)
	}
	c.Close()
	c = open(t, dir, Options{MaxSize: MinMaxSize})
	if l := c.List(); len(l) != 0 {
		t.Fatalf("List after Remove and restart: %+v", l)
	}
}
