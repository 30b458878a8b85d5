package fs

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/btfs/btfs/metainfo"
)

// manyFiles is a torrent of n small files under one directory: building
// its tree takes long enough for a reader to look in the middle of it.
func manyFiles(n int) (*metainfo.Info, []byte) {
	info := &metainfo.Info{Name: "album", PieceLength: 1 << 16, MultiFile: true}
	for i := range n {
		info.Files = append(info.Files, metainfo.File{Path: []string{fmt.Sprintf("%04d.txt", i)}, Length: 10, Offset: int64(i) * 10})
	}
	info.Length = int64(n) * 10
	return info, make([]byte, info.Length)
}

// A reader looking while Populate runs never sees the note and the files
// together, and once it has seen the files it never sees the note again:
// listings, and lookups of the torrent's name then of the note (as a
// script waiting for the files makes them), agree.
func TestPopulateShowsNoteOrFiles(t *testing.T) {
	info, data := manyFiles(10000)
	dir, m := mountPending(t, "waiting\n")
	if _, err := os.ReadFile(filepath.Join(dir, PendingFile)); err != nil {
		t.Fatal(err) // the kernel now knows the note
	}

	stop := make(chan struct{})
	var wg, looking sync.WaitGroup
	// look runs f until stop, and says when it has run once.
	look := func(f func()) {
		looking.Add(1)
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				f()
				if n == 0 {
					looking.Done()
				}
			}
		})
	}
	var mu sync.Mutex
	var wrong []string
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(wrong) < 5 {
			wrong = append(wrong, fmt.Sprintf(format, args...))
		}
	}
	exists := func(name string) bool {
		_, err := os.Lstat(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, iofs.ErrNotExist) {
			report("stat %s: %v", name, err)
		}
		return err == nil
	}
	look(func() {
		entries, err := os.ReadDir(dir)
		if err != nil {
			report("list: %v", err)
		}
		if len(entries) > 1 || (len(entries) == 1 && entries[0].Name() != PendingFile && entries[0].Name() != "album") {
			report("the root lists %v", entries)
		}
	})
	shown := false
	look(func() { // in the order a script waiting for the files looks
		album, note := exists("album"), exists(PendingFile)
		switch {
		case album && note:
			report("the files and the note both shown")
		case shown && !album:
			report("the files shown, then gone")
		}
		shown = shown || album
	})
	looking.Wait()
	if err := m.Populate(info, &memSource{data: data}); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	for _, w := range wrong {
		t.Error(w)
	}
	if entries, err := os.ReadDir(filepath.Join(dir, "album")); err != nil || len(entries) != len(info.Files) {
		t.Fatalf("album lists %d files, %v; want %d", len(entries), err, len(info.Files))
	}
}
