package fs

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// benchTorrents is the size of the library the benchmarks list.
const benchTorrents = 1000

// smallLibrary is benchTorrents small torrents: every fourth a single file,
// the others a directory of three files in two levels.
func smallLibrary() []libTorrent {
	ts := make([]libTorrent, benchTorrents)
	for i := range ts {
		name := fmt.Sprintf("torrent %04d", i)
		if i%4 == 0 {
			ts[i] = newLibTorrent(name+".mkv", uint64(i))
		} else {
			ts[i] = newLibTorrent(name, uint64(i), "a.bin", "sub/b.bin", "sub/c.bin")
		}
	}
	return ts
}

// benchMount mounts a library of ts, for one iteration: the kernel knows
// nothing of it yet, as after a fresh mount.
func benchMount(b *testing.B, ts []libTorrent) (string, *Library) {
	b.Helper()
	dir, err := os.MkdirTemp(b.TempDir(), "lib")
	if err != nil {
		b.Fatal(err)
	}
	l, err := MountLibrary(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, lt := range ts {
		add(b, l, lt)
	}
	return dir, l
}

func benchUnmount(b *testing.B, l *Library) {
	if err := l.Unmount(); err != nil {
		b.Fatal(err)
	}
	l.Wait()
}

// BenchmarkLibrary1000 times, on a fresh mount of 1,000 small torrents
// (3,250 files, 750 directories of them), showing them all (add), listing the root (readdir), a
// recursive walk with an lstat of every entry (walk), and ls -lR.
func BenchmarkLibrary1000(b *testing.B) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		b.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
	ts := smallLibrary()
	b.Run("add", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			dir, err := os.MkdirTemp(b.TempDir(), "lib")
			if err != nil {
				b.Fatal(err)
			}
			l, err := MountLibrary(dir, Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			for _, lt := range ts {
				add(b, l, lt)
			}
			b.StopTimer()
			benchUnmount(b, l)
		}
	})
	each := func(name string, op func(b *testing.B, dir string)) {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				dir, l := benchMount(b, ts)
				b.StartTimer()
				op(b, dir)
				b.StopTimer()
				benchUnmount(b, l)
			}
		})
	}
	each("readdir", func(b *testing.B, dir string) {
		if entries, err := os.ReadDir(dir); err != nil || len(entries) != benchTorrents {
			b.Fatalf("readdir: %d entries, %v", len(entries), err)
		}
	})
	each("walk", func(b *testing.B, dir string) {
		if n := len(walk(b, dir)); n != 1+benchTorrents+750*4 {
			b.Fatalf("walk: %d entries", n)
		}
	})
	if _, err := exec.LookPath("ls"); err == nil {
		each("ls-lR", func(b *testing.B, dir string) {
			if out, err := exec.Command("ls", "-lR", dir).CombinedOutput(); err != nil {
				b.Fatalf("ls -lR: %v: %s", err, out)
			}
		})
	}
}
