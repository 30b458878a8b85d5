package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/btfs/btfs/internal/testproc"
	"github.com/btfs/btfs/internal/wait"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/btfs/btfs/cache"
	"github.com/btfs/btfs/metainfo"
)

// cachedTorrent makes a torrent of 8 pieces of 64 KiB and stores the pieces
// given in the cache in dir; it returns the torrent's path and metainfo. The
// content is the torrent's path without ".torrent"; announce, if set, is
// its tracker.
func cachedTorrent(t *testing.T, dir, name, announce string, pieces ...int) (string, *metainfo.MetaInfo) {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	data := make([]byte, 8<<16)
	rand.NewChaCha8([32]byte{byte(len(name))}).Read(data)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := metainfo.CreateOptions{PieceLength: 64 << 10}
	if announce != "" {
		opts.Trackers = [][]string{{announce}}
	}
	mi, err := metainfo.Create(context.Background(), src, opts)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := mi.Encode()
	if err != nil {
		t.Fatal(err)
	}
	path := src + ".torrent"
	if err := os.WriteFile(path, enc, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(dir, cache.Options{MaxSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := c.Torrent(mi.InfoHash, &mi.Info)
	for _, i := range pieces {
		p := data[i<<16 : (i+1)<<16]
		if err := s.WritePiece(i, [][]byte{p[:16<<10], p[16<<10:]}); err != nil {
			t.Fatal(err)
		}
	}
	return path, mi
}

func TestCacheLsRm(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	pathA, a := cachedTorrent(t, dir, "alpha.bin", "", 0, 1, 2, 3)
	_, b := cachedTorrent(t, dir, "beta.bin", "", 7)

	code, out, stderr := btfs(t, "cache", "ls", "--cache-dir", dir)
	if code != exitOK {
		t.Fatalf("ls: exit %d: %s", code, stderr)
	}
	for _, want := range []string{a.InfoHash.String(), "4/8", "256 KiB", "alpha.bin", b.InfoHash.String(), "1/8", "beta.bin",
		"2 torrents, 320 KiB of pieces", "bound 10 GiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("ls output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "alpha.bin") > strings.Index(out, "beta.bin") {
		t.Errorf("ls does not list the largest first:\n%s", out)
	}

	code, out, _ = btfs(t, "cache", "ls", "--json", "--cache-dir", dir, "--cache-size", "1G")
	var ls cacheLsJSON
	if err := json.Unmarshal([]byte(out), &ls); code != exitOK || err != nil {
		t.Fatalf("ls --json: exit %d, %v:\n%s", code, err, out)
	}
	if ls.Bound != 1<<30 || len(ls.Torrents) != 2 || ls.Torrents[0].Pieces != 4 || ls.Torrents[0].Bytes != 256<<10 ||
		ls.Live != 320<<10 || ls.Disk < ls.Live {
		t.Fatalf("ls --json: %+v", ls)
	}

	// By .torrent file and by info-hash.
	code, out, stderr = btfs(t, "cache", "rm", "--cache-dir", dir, pathA, strings.ToUpper(b.InfoHash.String()))
	if code != exitOK || !strings.Contains(out, "removed "+a.InfoHash.String()+" alpha.bin (4 pieces, 256 KiB)") ||
		!strings.Contains(out, "removed "+b.InfoHash.String()) {
		t.Fatalf("rm: exit %d:\n%s%s", code, out, stderr)
	}
	if _, out, _ = btfs(t, "cache", "ls", "--cache-dir", dir); !strings.Contains(out, "0 torrents") {
		t.Fatalf("ls after rm:\n%s", out)
	}
	code, _, stderr = btfs(t, "cache", "rm", "--cache-dir", dir, a.InfoHash.String())
	if code != exitRuntime || !strings.Contains(stderr, "not in the cache") {
		t.Fatalf("rm of a forgotten torrent: exit %d: %s", code, stderr)
	}
}

func TestCacheUsageErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "none")
	tests := []struct {
		args     []string
		code     int
		inStderr string
	}{
		{[]string{"cache"}, exitUsage, "needs a subcommand"},
		{[]string{"cache", "frob"}, exitUsage, "unknown cache subcommand"},
		{[]string{"cache", "ls", "--cache-dir", dir, "extra"}, exitUsage, "no arguments"},
		{[]string{"cache", "ls", "--cache-dir", dir, "--cache-size", "lots"}, exitUsage, "--cache-size"},
		{[]string{"cache", "ls", "--cache-dir", dir, "--cache-size", "1M"}, exitUsage, "below the minimum"},
		{[]string{"cache", "ls", "--bogus"}, exitUsage, "not defined"},
		{[]string{"cache", "rm", "--cache-dir", dir}, exitUsage, "at least one"},
		{[]string{"cache", "rm", "--cache-dir", dir, "no-such.torrent"}, exitUsage, "neither an info-hash nor"},
		{[]string{"cache", "rm", "--cache-dir", dir, strings.Repeat("ab", 20)}, exitRuntime, "no cache in"},
		{[]string{"cache", "ls", "--cache-dir", dir}, exitOK, ""},
	}
	for _, tc := range tests {
		code, _, stderr := btfs(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.inStderr) {
			t.Errorf("btfs %q: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, stderr, tc.code, tc.inStderr)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("ls of a missing cache created it")
	}
}

func TestCacheInUse(t *testing.T) {
	dir := t.TempDir()
	c, err := cache.Open(dir, cache.Options{MaxSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	code, _, stderr := btfs(t, "cache", "ls", "--cache-dir", dir)
	if code != exitRuntime || !strings.Contains(stderr, "in use by another btfs process") {
		t.Fatalf("ls of a cache in use: exit %d: %s", code, stderr)
	}
}

// btfs seed --from-cache serves what the cache holds, with no data files:
// a btfs get downloads the whole torrent from it.
func TestSeedFromCache(t *testing.T) {
	work := t.TempDir()
	trackerAddr := fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(t))
	testproc.Start(t, work, btfsBin, "tracker", "--listen", trackerAddr, "--udp", "", "--interval", "1m")
	waitListening(t, trackerAddr)
	cacheDir := filepath.Join(work, "cache")
	torrent, _ := cachedTorrent(t, cacheDir, "gamma.bin", "http://"+trackerAddr+"/announce", 0, 1, 2, 3, 4, 5, 6, 7)
	seedPort := testproc.FreePort(t)
	testproc.Start(t, work, btfsBin, "seed", "--no-dht", "--from-cache", "--cache-dir", cacheDir,
		"--listen", "127.0.0.1", "--port", fmt.Sprint(seedPort), torrent)
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", seedPort))
	wait.For(t, "the seeder's announce", 10*time.Second, func() bool { return trackerSeeders(trackerAddr) == 1 })

	out := filepath.Join(work, "out")
	if code, _, stderr := btfs(t, "get", "--no-dht", "-o", out, "--listen", "127.0.0.1", "--port", "0", torrent); code != exitOK {
		t.Fatalf("get from a cache seeder: exit %d: %s", code, stderr)
	}
	if got, want := sha1File(t, filepath.Join(out, "gamma.bin")), sha1File(t, strings.TrimSuffix(torrent, ".torrent")); got != want {
		t.Fatalf("downloaded sha1 %s, want %s", got, want)
	}

	// Into a disk too small for it, get stops with the storage's error
	// instead of fetching the pieces it cannot write again and again.
	if os.Geteuid() != 0 {
		return
	}
	small := filepath.Join(work, "small")
	os.Mkdir(small, 0o755)
	if err := syscall.Mount("tmpfs", small, "tmpfs", 0, "size=128k"); err != nil {
		t.Logf("no tmpfs for the full-disk case: %v", err)
		return
	}
	defer syscall.Unmount(small, syscall.MNT_DETACH)
	code, _, stderr := btfs(t, "get", "--no-dht", "-o", small, "--listen", "127.0.0.1", "--port", "0", torrent)
	if code != exitRuntime || !strings.Contains(stderr, "cannot write the download") || !strings.Contains(stderr, "no space left") {
		t.Fatalf("get into a full disk: exit %d: %s", code, stderr)
	}
}
