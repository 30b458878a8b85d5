package watchdir

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/btfs/btfs/metainfo"
)

// After the kernel's queue overflows, events are lost; a rescan finds what
// changed meanwhile: files gone are removed, new ones added, others kept.
func TestRescanFindsLostChanges(t *testing.T) {
	dir := t.TempDir()
	kept, hk := torrent(t, "kept")
	gone, _ := torrent(t, "gone")
	write(t, filepath.Join(dir, "kept.torrent"), kept)
	write(t, filepath.Join(dir, "gone.torrent"), gone)
	w, err := New(dir, fast)
	if err != nil {
		t.Fatal(err)
	}
	var got []Event
	s := &scanner{w: w, handle: func(e Event) { got = append(got, e) },
		reported: map[string]metainfo.Hash{}, due: map[string]time.Time{}, deferred: map[string]bool{}}
	now := time.Now()
	names, err := s.list()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		s.process(name, now)
	}
	if len(got) != 2 || s.reported["kept.torrent"] != hk {
		t.Fatalf("scan gave %v", got)
	}

	// Changes whose events were lost.
	if err := os.Remove(filepath.Join(dir, "gone.torrent")); err != nil {
		t.Fatal(err)
	}
	added, ha := torrent(t, "added")
	write(t, filepath.Join(dir, "added.torrent"), added)
	got = nil
	if err := s.rescan(now); err != nil {
		t.Fatal(err)
	}
	s.fire(now) // not yet settled: nothing read
	if len(got) != 0 {
		t.Fatalf("read before settling: %v", got)
	}
	s.fire(now.Add(fast.Settle))
	want := []string{"add added.torrent " + ha.String(), "remove gone.torrent"}
	var strs []string
	for _, e := range got {
		strs = append(strs, e.String())
	}
	if !slices.Equal(strs, want) {
		t.Fatalf("rescan gave %q, want %q", strs, want)
	}
}
