package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"github.com/btfs/btfs/internal/testproc"
	"github.com/btfs/btfs/internal/wait"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/tracker"
)

// interopMountFiles is the content of the torrent TestInteropMount mounts:
// with mktorrent's 64 KiB pieces, files end inside pieces (one is an exact
// number of pieces long, one is smaller than a block), and a directory is
// nested in another.
var interopMountFiles = map[string]int64{
	"disc1/track01.flac":       3<<20 + 12345,
	"disc1/extras/booklet.pdf": 200000,
	"disc2/track01.flac":       16 * 65536,
	"cover.jpg":                70001,
	"notes.txt":                1000,
}

// TestInteropMount: btfs mount shows a torrent made by mktorrent whose only
// seeder is aria2c, both announcing to Debian's opentracker on 127.0.0.1;
// sha1sum run on every file through the mount prints what it prints for the
// source files; btfs unmount then ends the mount process cleanly.
func TestInteropMount(t *testing.T) {
	requireFUSE(t)
	for _, tool := range []string{"mktorrent", "aria2c", "opentracker", "sha1sum", "fusermount3"} {
		testproc.RequireTool(t, tool)
	}
	clearProxies(t)

	seedDir := t.TempDir()
	src := filepath.Join(seedDir, "album")
	writeRandomTree(t, src, interopMountFiles, sha256.Sum256([]byte(t.Name())))
	files := slices.Sorted(maps.Keys(interopMountFiles))
	port := testproc.FreePort(t)
	torrent := foreignTorrent(t, src, "mktorrent", "-l", "16", "-a", fmt.Sprintf("http://127.0.0.1:%d/announce", port))
	mi, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	if len(mi.Info.Files) != len(files) || mi.Info.PieceLength != 1<<16 {
		t.Fatalf("mktorrent made a torrent of %d files, %d-byte pieces; want %d files, 65536-byte pieces",
			len(mi.Info.Files), mi.Info.PieceLength, len(files))
	}
	tr := startOpentracker(t, port, mi.InfoHash)
	startAria2(t, torrent, seedDir, aria2Seed...)
	waitScrape(t, tr.http, mi.InfoHash, "the aria2c seeder to announce", interopStartup,
		func(s tracker.ScrapeStats) bool { return s.Seeders == 1 })

	mnt := t.TempDir()
	mount := testproc.Start(t, t.TempDir(), btfsBin, "mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0",
		"--cache-dir", t.TempDir(), torrent, mnt)
	wait.For(t, "btfs mount to mount", interopStartup, func() bool {
		select {
		case <-mount.Done():
			t.Fatalf("btfs mount exited: %v\n%s", mount.Err(), mount.Output())
		default:
		}
		return strings.Contains(mount.Output(), "msg=mounted")
	})
	root := filepath.Join(mnt, mi.Info.Name)
	if listed := listFiles(t, root); !slices.Equal(listed, files) {
		t.Fatalf("the mount lists %q, want %q", listed, files)
	}
	if got, want := sha1sum(t, root, files), sha1sum(t, src, files); got != want {
		t.Fatalf("sha1sum through the mount:\n%s\nof the source files:\n%s", got, want)
	}

	if out, err := exec.Command(btfsBin, "unmount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("btfs unmount: %v\n%s", err, out)
	}
	if err := mount.Wait(t, interopStartup); err != nil {
		t.Fatalf("btfs mount exited with %v:\n%s", err, mount.Output())
	}
	if !strings.Contains(mount.Output(), "msg=unmounted") {
		t.Fatalf("btfs mount exited without saying it unmounted:\n%s", mount.Output())
	}
	if entries, err := os.ReadDir(mnt); err != nil || len(entries) != 0 {
		t.Fatalf("the mountpoint after btfs unmount: %v, %v", entries, err)
	}
}

// requireFUSE skips the test on a machine without /dev/fuse, or fails it
// there when BTFS_REQUIRE_INTEROP is set (as requireTool does).
func requireFUSE(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if os.Getenv("BTFS_REQUIRE_INTEROP") != "" {
			t.Fatalf("no /dev/fuse on this machine (%v), and BTFS_REQUIRE_INTEROP is set", err)
		}
		t.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
}

// listFiles lists the regular files under root, slash-separated and sorted.
func listFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatalf("listing %s: %v", root, err)
	}
	slices.Sort(files)
	return files
}

// sha1sum runs the sha1sum program on files (relative to dir) in dir and
// returns what it prints. A read that hangs fails the test after
// interopTransfer.
func sha1sum(t *testing.T, dir string, files []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopTransfer)
	defer cancel()
	cmd := exec.CommandContext(ctx, testproc.RequireTool(t, "sha1sum"), append([]string{"--"}, files...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("sha1sum in %s: %v (%v)\n%s", dir, err, ctx.Err(), stderr)
	}
	return string(out)
}
