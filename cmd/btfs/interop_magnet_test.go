package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"github.com/btfs/btfs/internal/wait"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/btfs/btfs/internal/testproc"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/tracker"
)

// TestInteropMagnetMountFromAria2: aria2c seeds a torrent; btfs mount of its
// magnet link, whose one peer is aria2c (x.pe), takes the metadata and then
// the data from it: sha1sum through the mount prints what it prints for the
// source files.
func TestInteropMagnetMountFromAria2(t *testing.T) {
	requireFUSE(t)
	for _, tool := range []string{"aria2c", "sha1sum", "fusermount3"} {
		testproc.RequireTool(t, tool)
	}
	clearProxies(t)
	seedDir := t.TempDir()
	src := filepath.Join(seedDir, "album")
	writeRandomTree(t, src, interopMountFiles, sha256.Sum256([]byte(t.Name())))
	files := slices.Sorted(maps.Keys(interopMountFiles))
	// A tracker that refuses connections: aria2c wants one to announce to;
	// btfs is given aria2c's address instead.
	torrent := filepath.Join(t.TempDir(), "album.torrent")
	mi := createTorrent(t, torrent, "-t", "http://127.0.0.1:1/announce", "-l", "64KiB", src)
	port := testproc.FreePort(t)
	aria := startAria2At(t, port, torrent, seedDir, aria2Seed...)
	ariaAddr := fmt.Sprintf("127.0.0.1:%d", port)
	aria.WaitListening(t, ariaAddr, interopStartup)

	mnt := t.TempDir()
	link := "magnet:?xt=urn:btih:" + mi.InfoHash.String() + "&x.pe=" + ariaAddr
	mount := testproc.Start(t, t.TempDir(), btfsBin, "mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0",
		"--cache-dir", t.TempDir(), link, mnt)
	root := filepath.Join(mnt, mi.Info.Name)
	wait.For(t, "the files of the magnet link to appear", interopTransfer, func() bool {
		select {
		case <-mount.Done():
			t.Fatalf("btfs mount exited: %v\n%s", mount.Err(), mount.Output())
		default:
		}
		return strings.Contains(mount.Output(), `msg="metadata arrived`)
	})
	if listed := listFiles(t, root); !slices.Equal(listed, files) {
		t.Fatalf("the mount lists %q, want %q", listed, files)
	}
	if got, want := sha1sum(t, root, files), sha1sum(t, src, files); got != want {
		t.Fatalf("sha1sum through the mount:\n%s\nof the source files:\n%s", got, want)
	}
	unmountAndWait(t, mnt, mount)
}

// TestInteropAria2MagnetFromBtfsSeed: btfs seed serves the metadata by
// ut_metadata; aria2c, given the torrent's magnet link, finds the seeder
// through Debian's opentracker and saves the torrent it builds from the
// metadata: the same info dictionary. (Not through btfs tracker: aria2c
// announces left=0 while it has no metadata, which makes it a seeder, and
// btfs tracker, as many do, hands seeders no seeders.)
func TestInteropAria2MagnetFromBtfsSeed(t *testing.T) {
	for _, tool := range []string{"aria2c", "opentracker"} {
		testproc.RequireTool(t, tool)
	}
	clearProxies(t)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	// 300 files with long names: their list makes the metadata three BEP 9
	// pieces long.
	files := map[string]int64{}
	for i := range 300 {
		files[fmt.Sprintf("file-%03d-%s.bin", i, strings.Repeat("n", 90))] = int64(1000 + i)
	}
	writeRandomTree(t, filepath.Join(src, "show"), files, sha256.Sum256([]byte(t.Name())))
	port := testproc.FreePort(t)
	announce := fmt.Sprintf("http://127.0.0.1:%d/announce", port)
	torrent := filepath.Join(work, "show.torrent")
	mi := createTorrent(t, torrent, "-t", announce, "-l", "16KiB", filepath.Join(src, "show"))
	if n := len(mi.InfoBytes); n <= 2*16<<10 {
		t.Fatalf("metadata of %d bytes: the test wants several pieces", n)
	}
	tr := startOpentracker(t, port, mi.InfoHash)
	seedPort := testproc.FreePort(t)
	seeder := testproc.Start(t, work, btfsBin, "seed", "--no-dht", "--listen", "127.0.0.1", "--port", fmt.Sprint(seedPort), "-d", src, torrent)
	seeder.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", seedPort), interopStartup)
	waitScrape(t, tr.http, mi.InfoHash, "btfs seed to announce", interopStartup,
		func(s tracker.ScrapeStats) bool { return s.Seeders == 1 })

	out := t.TempDir()
	link := "magnet:?xt=urn:btih:" + mi.InfoHash.String() + "&tr=" + announce
	aria := startAria2(t, link, out, "--bt-metadata-only=true", "--bt-save-metadata=true")
	if err := aria.Wait(t, interopTransfer); err != nil {
		t.Fatalf("aria2c: %v", err)
	}
	saved, err := metainfo.Load(filepath.Join(out, mi.InfoHash.String()+".torrent"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(saved.InfoBytes, mi.InfoBytes) {
		t.Fatalf("aria2c saved %d bytes of info, want the %d btfs seed serves", len(saved.InfoBytes), len(mi.InfoBytes))
	}
}
