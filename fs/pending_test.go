package fs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A mount made before the torrent's info is known answers at once with its
// note alone; Populate shows the files, and the kernel forgets what it
// cached of the empty root: a name looked up and not found before is found
// at once after, and the note is gone.
func TestPendingMount(t *testing.T) {
	info, data := testTorrent(t)
	const text = "btfs: waiting for the metadata\n"
	dir, m := mountPending(t, text)

	start := time.Now()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != PendingFile {
		t.Fatalf("the pending mount lists %v, %v; want only %s", entries, err, PendingFile)
	}
	if got, err := os.ReadFile(filepath.Join(dir, PendingFile)); err != nil || string(got) != text {
		t.Fatalf("%s: %q, %v", PendingFile, got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "album")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat of a torrent's name before its info: %v", err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Blocks != 0 {
		t.Fatalf("statfs before the info: %+v, %v", st, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the pending mount took %v to answer", d)
	}
	if err := os.WriteFile(filepath.Join(dir, PendingFile), []byte("x"), 0o644); err == nil {
		t.Fatal("wrote the note")
	}

	// Readers keep looking while the files arrive.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.ReadDir(dir)
			os.Stat(filepath.Join(dir, "album", "cover", "front.jpg"))
		}
	})
	src := &memSource{data: data}
	if err := m.Populate(info, src); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if err := m.Populate(info, src); err == nil {
		t.Fatal("a second Populate worked")
	}

	entries, err = os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "album" {
		t.Fatalf("after Populate the mount lists %v, %v; want album", entries, err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "album", "cover", "front.jpg"))
	if f := info.Files[2]; err != nil || !bytes.Equal(got, data[f.Offset:f.Offset+f.Length]) {
		t.Fatalf("album/cover/front.jpg after Populate: %d bytes, %v", len(got), err)
	}
	if err := syscall.Statfs(dir, &st); err != nil || st.Blocks == 0 {
		t.Fatalf("statfs after the info: %+v, %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(dir, PendingFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the note after Populate: %v", err)
	}
}

// mountPending makes a pending mount whose note says text, under
// t.TempDir(), until the test ends.
func mountPending(t *testing.T, text string) (string, *Mounted) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
	dir := t.TempDir()
	m, err := MountPending(dir, text, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		m.Wait()
	})
	return dir, m
}
