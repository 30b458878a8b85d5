package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/testproc"
	"github.com/btfs/btfs/internal/wait"
)

// A mount whose cache lives on a 20 MiB disk: reading a
// 40 MiB file through it gives the exact bytes or EIO, never a crash; the
// cache stays under its bound on disk; and pieces are not fetched over and
// over (the download is a small multiple of what is read). With the bound
// of a reported crash (16 MiB) the cache evicts; with a bound past the disk the
// disk fills and the pieces the cache refuses are served from memory.
func TestMountCacheOnFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
	const (
		disk   = 20 << 20
		length = 40 << 20
	)
	work := t.TempDir()
	src := filepath.Join(work, "src", "big")
	data := make([]byte, length)
	rand.Read(data)
	os.MkdirAll(src, 0o755)
	if err := os.WriteFile(filepath.Join(src, "film.mkv"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	trackerAddr := fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(t))
	testproc.Start(t, work, btfsBin, "tracker", "--listen", trackerAddr, "--udp", "", "--interval", "1m")
	waitListening(t, trackerAddr)
	torrent := filepath.Join(work, "big.torrent")
	if code, _, stderr := btfs(t, "create", "-t", "http://"+trackerAddr+"/announce", "-l", "256KiB", "-o", torrent, src); code != exitOK {
		t.Fatalf("create: %s", stderr)
	}
	seedPort := testproc.FreePort(t)
	testproc.Start(t, work, btfsBin, "seed", "--no-dht", "--listen", "127.0.0.1", "--port", fmt.Sprint(seedPort), "-d", filepath.Join(work, "src"), torrent)
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", seedPort))

	for _, tc := range []struct {
		name, size string
		bound      int64 // on du of the cache directory
	}{
		{"bound 16MiB", "16MiB", 16 << 20},
		{"bound past the disk", "1GiB", disk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpfs := t.TempDir()
			if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", disk), "tmpfs", tmpfs).CombinedOutput(); err != nil {
				t.Skipf("cannot mount a small tmpfs for the cache (needs root): %v: %s", err, out)
			}
			mnt := filepath.Join(t.TempDir(), "mnt")
			os.Mkdir(mnt, 0o755)
			runtime := filepath.Join(t.TempDir(), "run")
			mount := testproc.StartEnv(t, []string{"XDG_RUNTIME_DIR=" + runtime}, work, btfsBin, "mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0",
				"--cache-dir", filepath.Join(tmpfs, "cache"), "--cache-size", tc.size, torrent, mnt)
			// Unmount the cache's disk after the mount has gone (cleanups
			// run last first).
			t.Cleanup(func() {
				mount.Stop()
				if out, err := exec.Command("umount", tmpfs).CombinedOutput(); err != nil {
					t.Errorf("umount %s: %v: %s", tmpfs, err, out)
				}
			})
			file := filepath.Join(mnt, "big", "film.mkv")
			wait.For(t, "the mount", 20*time.Second, func() bool { _, err := os.Stat(file); return err == nil })

			// Read it all, then the last quarter again (cached, or in memory).
			var good, eio, done atomic.Int64
			var failure atomic.Value
			go func() {
				defer done.Store(1)
				f, err := os.Open(file)
				if err != nil {
					failure.Store(err.Error())
					return
				}
				defer f.Close()
				buf := make([]byte, 128<<10)
				for _, off := range append(offsets(0, length, len(buf)), offsets(length*3/4, length, len(buf))...) {
					n, err := f.ReadAt(buf, off)
					switch {
					case err == nil && bytes.Equal(buf[:n], data[off:off+int64(n)]):
						good.Add(1)
					case errors.Is(err, syscall.EIO):
						eio.Add(1)
					default:
						failure.Store(fmt.Sprintf("read at %d: %d bytes, %v (wrong bytes if nil)", off, n, err))
						return
					}
				}
			}()
			wait.For(t, "the reads", 60*time.Second, func() bool { return done.Load() == 1 })
			if f := failure.Load(); f != nil {
				t.Fatalf("%s\nmount log:\n%s", f, mount.Output())
			}
			select {
			case <-mount.Done():
				t.Fatalf("the mount died: %v\n%s", mount.Err(), mount.Output())
			default:
			}
			status, err := queryMounts(t.Context(), filepath.Join(runtime, "btfs"), mnt, io.Discard)
			if err != nil || len(status.Mounts) != 1 {
				t.Fatalf("status: %v", err)
			}
			st := status.Mounts[0]
			t.Logf("%d reads exact, %d EIO; downloaded %d MiB for a %d MiB file read 1.25 times; cache on disk %d KiB, bound %d KiB",
				good.Load(), eio.Load(), st.Downloaded>>20, length>>20, st.Cache.Disk>>10, tc.bound>>10)
			if good.Load() == 0 {
				t.Fatal("no read succeeded")
			}
			if eio.Load() > 0 {
				t.Logf("mount log:\n%s", mount.Output())
			}
			// Each piece once, the re-read quarter maybe twice, and the
			// duplicates of the end game: under one and a half times the file.
			if st.Downloaded > length*3/2 {
				t.Fatalf("downloaded %d MiB for a %d MiB file: pieces fetched over and over", st.Downloaded>>20, length>>20)
			}
			if st.Cache.Disk > tc.bound {
				t.Fatalf("the cache takes %d KiB on disk, over %d KiB", st.Cache.Disk>>10, tc.bound>>10)
			}
			if out := mount.Output(); strings.Contains(out, "fatal error") {
				t.Fatalf("mount log:\n%s", out)
			}
		})
	}
}

// offsets are the offsets of reads of n bytes from start to end.
func offsets(start, end int64, n int) []int64 {
	var out []int64
	for off := start; off < end; off += int64(n) {
		out = append(out, off)
	}
	return out
}
