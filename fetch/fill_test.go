package fetch

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/btfs/btfs/fetch/picker"
	"github.com/btfs/btfs/internal/wait"
)

// noRoom is a storage that says it has no room left.
type noRoom struct{ Storage }

func (noRoom) Room() int64 { return 0 }

// fillMount starts a mount-like node beside a seeder of 12 MiB in 64 KiB
// pieces: the middle 6 MiB are neither a file's head nor its tail.
func fillMount(t *testing.T, tweak func(*Config)) (*node, *Reader) {
	t.Helper()
	mi, src := makeContent(t, 12<<20, 64<<10)
	seeder := startNode(t, mi, src, true, nil)
	mounter := startNode(t, mi, t.TempDir(), false, func(c *Config) {
		c.WantAll = false
		if tweak != nil {
			tweak(c)
		}
	})
	mounter.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
	r := mounter.t.NewReader(0, mi.Info.Length, 128<<10)
	t.Cleanup(func() { r.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.ReadAt(ctx, make([]byte, 100), 0); err != nil {
		t.Fatal(err)
	}
	return mounter, r
}

// loopState reads what the fill and the peers' pipelines hold.
func loopState(tor *Torrent) (fill, maxPerPeer, have int, middle picker.Priority) {
	tor.do(context.Background(), func() {
		fill, have = len(tor.fill), tor.picker.HaveCount()
		for p := range tor.peers {
			maxPerPeer = max(maxPerPeer, len(p.fillReqs))
		}
		middle = tor.picker.Priority(tor.info.NumPieces() / 2)
	})
	return
}

// An open file is filled in the background, a few pieces at a time, with
// a few blocks in flight per peer; closing its reader ends the fill.
func TestFillFetchesTheOpenFile(t *testing.T) {
	m, r := fillMount(t, nil)
	n := m.t.info.NumPieces()
	wait.For(t, "the whole file to be filled", 30*time.Second, func() bool {
		fill, perPeer, have, _ := loopState(m.t)
		if fill > fillPieces || perPeer > maxFillPerPeer {
			t.Fatalf("the fill holds %d pieces and %d blocks of one peer; bounds %d and %d", fill, perPeer, fillPieces, maxFillPerPeer)
		}
		return have == n
	})
	r.Close()
	if fill, _, _, _ := loopState(m.t); fill != 0 {
		t.Fatalf("%d pieces still wanted by the fill of a closed reader", fill)
	}
}

// Closing the reader stops its fill at once: the pieces it wanted are no
// longer wanted.
func TestFillStopsWithTheReader(t *testing.T) {
	m, r := fillMount(t, nil)
	r.Close()
	fill, _, _, middle := loopState(m.t)
	if fill != 0 || middle != picker.None {
		t.Fatalf("after the reader closed: %d fill pieces, the middle piece at %v", fill, middle)
	}
}

// With NoFill, or a storage without room, nothing but what is read, read
// ahead, or a head or tail is fetched.
func TestNoFill(t *testing.T) {
	for name, tweak := range map[string]func(*Config){
		"NoFill":  func(c *Config) { c.NoFill = true },
		"no room": func(c *Config) { c.Storage = noRoom{c.Storage} },
	} {
		t.Run(name, func(t *testing.T) {
			m, _ := fillMount(t, tweak)
			if fill, _, _, middle := loopState(m.t); fill != 0 || middle != picker.None {
				t.Fatalf("%d fill pieces, the middle piece at %v", fill, middle)
			}
		})
	}
}
