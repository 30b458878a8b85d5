package fs

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/wait"
	"github.com/btfs/btfs/metainfo"
)

// libTorrent is a torrent for a library test: its info, its bytes and a
// Source over them that counts the readers it opens.
type libTorrent struct {
	key  string
	info *metainfo.Info
	src  *memSource
}

// newLibTorrent makes a torrent called name over random bytes: one file of
// that name if paths is empty, otherwise a directory of those files.
func newLibTorrent(name string, seed uint64, paths ...string) libTorrent {
	info := &metainfo.Info{Name: name, PieceLength: 1 << 14, MultiFile: len(paths) > 0}
	if len(paths) == 0 {
		info.Files = []metainfo.File{{Path: []string{name}, Length: 3000 + int64(seed)*7}}
	}
	for i, p := range paths {
		info.Files = append(info.Files, metainfo.File{Path: strings.Split(p, "/"), Length: int64(1000*(i+1)) + int64(seed)})
	}
	var off int64
	for i := range info.Files {
		info.Files[i].Offset = off
		off += info.Files[i].Length
	}
	info.Length = off
	data := make([]byte, off)
	rng := rand.New(rand.NewPCG(seed, 3))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	return libTorrent{key: fmt.Sprintf("%x", sha1.Sum(fmt.Appendf(nil, "%s/%d", name, seed))), info: info, src: &memSource{data: data}}
}

// bytesOf is the content of file i.
func (lt libTorrent) bytesOf(i int) []byte {
	f := lt.info.Files[i]
	return lt.src.data[f.Offset : f.Offset+f.Length]
}

// mountLib mounts an empty library under t.TempDir() until the test ends.
func mountLib(t testing.TB, opts Options) (string, *Library) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
	dir := t.TempDir()
	l, err := MountLibrary(dir, opts)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		l.Wait()
	})
	return dir, l
}

func add(t testing.TB, l *Library, lt libTorrent) string {
	t.Helper()
	shown, err := l.Add(lt.key, "", lt.info, lt.src)
	if err != nil {
		t.Fatalf("add %s: %v", lt.info.Name, err)
	}
	return shown
}

// walk lists every path under dir (directories with a slash) with its
// inode number, by lstat as ls -lR does.
func walk(t testing.TB, dir string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	err := filepath.WalkDir(dir, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			rel += "/"
		}
		out[rel] = st.Sys().(*syscall.Stat_t).Ino
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func names(m map[string]uint64) []string {
	var s []string
	for p := range m {
		s = append(s, p)
	}
	slices.Sort(s)
	return s
}

// threeTorrents is a library of a single file and two directories of one
// name.
func threeTorrents() []libTorrent {
	return []libTorrent{
		newLibTorrent("movie.mkv", 1),
		newLibTorrent("album", 2, "01.flac", "cover/front.jpg"),
		newLibTorrent("album", 3, "a.txt", "deep/b/c.txt"),
	}
}

// Three torrents show side by side at the root, the second "album" tagged
// with its key; each file reads back exactly; listing and stat never open
// a Source; a remount shows the same names and inode numbers.
func TestLibraryTree(t *testing.T) {
	ts := threeTorrents()
	tag := ts[2].key[:8]
	want := []string{"./", "album/", "album/01.flac", "album/cover/", "album/cover/front.jpg",
		"album [" + tag + "]/", "album [" + tag + "]/a.txt", "album [" + tag + "]/deep/",
		"album [" + tag + "]/deep/b/", "album [" + tag + "]/deep/b/c.txt", "movie.mkv"}
	slices.Sort(want)
	var first map[string]uint64
	for mount := range 2 {
		dir, l := mountLib(t, Options{})
		for _, lt := range ts {
			add(t, l, lt)
		}
		got := walk(t, dir)
		if strings.Join(names(got), "\n") != strings.Join(want, "\n") {
			t.Fatalf("tree:\n%s\nwant:\n%s", strings.Join(names(got), "\n"), strings.Join(want, "\n"))
		}
		for _, lt := range ts {
			if n := lt.src.opensNow(); n != 0 {
				t.Fatalf("listing opened %d readers of %s", n, lt.info.Name)
			}
		}
		if mount == 0 {
			first = got
		} else {
			for p, ino := range first {
				if p != "./" && got[p] != ino {
					t.Errorf("%s: inode %d, then %d after a remount", p, ino, got[p])
				}
			}
		}
	}
	dir, l := mountLib(t, Options{})
	shown := make([]string, len(ts))
	for i, lt := range ts {
		shown[i] = add(t, l, lt)
	}
	for i, lt := range ts {
		for j, f := range lt.info.Files {
			p := filepath.Join(dir, shown[i])
			if lt.info.MultiFile {
				p = filepath.Join(p, filepath.Join(f.Path...))
			}
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, lt.bytesOf(j)) {
				t.Errorf("%s: %d bytes, %v", p, len(got), err)
			}
		}
	}
}

// A torrent added while mounted shows at once, in the listing and by name,
// even where the kernel had just been told the name did not exist.
func TestLibraryAddWhileMounted(t *testing.T) {
	dir, l := mountLib(t, Options{})
	for _, lt := range threeTorrents() {
		add(t, l, lt)
	}
	fourth := newLibTorrent("show", 4, "s01/e01.mkv")
	if _, err := os.Stat(filepath.Join(dir, "show")); !errors.Is(err, iofs.ErrNotExist) {
		t.Fatalf("stat before the add: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "show", "s01", "e01.mkv")); !errors.Is(err, iofs.ErrNotExist) {
		t.Fatalf("stat before the add: %v", err)
	}
	add(t, l, fourth)
	wait.For(t, "the fourth torrent in the listing", 2*time.Second, func() bool {
		entries, _ := os.ReadDir(dir)
		return slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() == "show" && e.IsDir() })
	})
	wait.For(t, "the fourth torrent's file by stat", 2*time.Second, func() bool {
		st, err := os.Stat(filepath.Join(dir, "show", "s01", "e01.mkv"))
		return err == nil && st.Size() == fourth.info.Files[0].Length
	})
	if got, err := os.ReadFile(filepath.Join(dir, "show", "s01", "e01.mkv")); err != nil || !bytes.Equal(got, fourth.bytesOf(0)) {
		t.Fatalf("the new file reads %d bytes, %v", len(got), err)
	}
}

// A removed torrent is gone from the listing and from stat at once, while
// a handle open on one of its files keeps reading its exact bytes until it
// is closed, which closes its reader. The torrent added again is fresh.
func TestLibraryRemoveWithOpenHandle(t *testing.T) {
	dir, l := mountLib(t, Options{})
	ts := threeTorrents()
	for _, lt := range ts {
		add(t, l, lt)
	}
	album := ts[1]
	p := filepath.Join(dir, "album", "cover", "front.jpg")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := album.bytesOf(1)
	head := make([]byte, 100)
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, want[:100]) {
		t.Fatalf("read before the remove: %v", err)
	}
	if err := l.Remove(album.key); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() == "album" }) {
		t.Fatalf("after the remove the root lists %v, %v", entries, err)
	}
	for _, gone := range []string{"album", "album/cover", "album/cover/front.jpg"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !errors.Is(err, iofs.ErrNotExist) {
			t.Fatalf("stat %s after the remove: %v", gone, err)
		}
	}
	rest, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(rest, want[100:]) {
		t.Fatalf("the open handle read %d bytes after the remove, %v; want %d exact", len(rest), err, len(want)-100)
	}
	if files := l.OpenFiles(); len(files) != 1 || files[0].Key != album.key || files[0].Path != "album/cover/front.jpg" {
		t.Fatalf("open files after the remove: %+v", files)
	}
	f.Close()
	wait.For(t, "the handle's reader to be closed", 5*time.Second, func() bool {
		album.src.mu.Lock()
		defer album.src.mu.Unlock()
		return album.src.closes == 1
	})
	if err := l.Remove(album.key); !errors.Is(err, ErrUnknown) {
		t.Fatalf("a second remove: %v", err)
	}

	again := newLibTorrent("album", 2, "01.flac", "cover/front.jpg") // other bytes: a fresh Source
	again.key = album.key
	again.src.data = bytes.Repeat([]byte{7}, len(again.src.data))
	add(t, l, again)
	wait.For(t, "the torrent back, with its new bytes", 2*time.Second, func() bool {
		got, err := os.ReadFile(p)
		return err == nil && bytes.Equal(got, again.bytesOf(1))
	})
}

// Populate never shows a torrent's note and its files together: a reader
// listing the root in a loop sees one or the other, never both. Each round
// waits for the reader to see the note before the populate, and the files
// after, so that the reader's listings cross every change.
func TestLibraryPopulateNeverShowsBoth(t *testing.T) {
	dir, l := mountLib(t, Options{})
	for _, lt := range threeTorrents() {
		add(t, l, lt)
	}
	const rounds = 50
	var note, files, both atomic.Int64 // listings with a note, with a populated torrent, with both
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Errorf("readdir: %v", err)
				return
			}
			var n, f bool
			for _, e := range entries {
				n = n || strings.HasSuffix(e.Name(), ".pending")
				f = f || (strings.HasPrefix(e.Name(), "magnet ") && e.IsDir())
			}
			if n {
				note.Add(1)
			}
			if f {
				files.Add(1)
			}
			if n && f {
				both.Add(1)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	for i := range rounds {
		lt := newLibTorrent(fmt.Sprintf("magnet %d", i), uint64(100+i), "f.bin")
		if _, err := l.AddPending(lt.key, fmt.Sprintf("magnet %d.pending", i), "waiting\n"); err != nil {
			t.Fatal(err)
		}
		seen := note.Load()
		wait.For(t, "the reader to list the note", 5*time.Second, func() bool { return note.Load() > seen })
		if err := l.Populate(lt.key, lt.info, lt.src); err != nil {
			t.Fatal(err)
		}
		seen = files.Load()
		wait.For(t, "the reader to list the files", 5*time.Second, func() bool { return files.Load() > seen })
		if err := l.Remove(lt.key); err != nil {
			t.Fatal(err)
		}
	}
	if n := both.Load(); n != 0 {
		t.Fatalf("%d listings showed a note and its torrent's files together (%d a note, %d files)", n, note.Load(), files.Load())
	}
	t.Logf("listings: %d with a note, %d with files, none with both", note.Load(), files.Load())
}

// OpenFiles names each open file's torrent by its key, under the name it
// is shown by.
func TestLibraryOpenFiles(t *testing.T) {
	dir, l := mountLib(t, Options{})
	ts := threeTorrents()
	for _, lt := range ts {
		add(t, l, lt)
	}
	tagged := "album [" + ts[2].key[:8] + "]"
	for _, p := range []string{"movie.mkv", tagged + "/deep/b/c.txt"} {
		f, err := os.Open(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
	}
	files := l.OpenFiles()
	if len(files) != 2 || files[0].Key != ts[2].key || files[0].Path != tagged+"/deep/b/c.txt" ||
		files[1].Key != ts[0].key || files[1].Path != "movie.mkv" {
		t.Fatalf("open files: %+v", files)
	}
}

// The library refuses what it cannot show, with errors that say which.
func TestLibraryErrors(t *testing.T) {
	_, l := mountLib(t, Options{})
	lt := newLibTorrent("x", 1, "a")
	add(t, l, lt)
	if _, err := l.Add(lt.key, "", lt.info, lt.src); !errors.Is(err, ErrExists) {
		t.Errorf("a key added twice: %v", err)
	}
	if err := l.Populate(lt.key, lt.info, lt.src); !errors.Is(err, ErrNotPending) {
		t.Errorf("populating a torrent shown: %v", err)
	}
	if err := l.Populate("nope", lt.info, lt.src); !errors.Is(err, ErrUnknown) {
		t.Errorf("populating an unknown key: %v", err)
	}
	for _, bad := range []string{".", "..", "a/b", "a\x00"} {
		if _, err := l.AddPending("k"+bad, bad, ""); err == nil {
			t.Errorf("a note named %q was shown", bad)
		}
	}
	if _, err := l.Add("", "y", lt.info, lt.src); err == nil {
		t.Error("a torrent without a key was shown")
	}
}
