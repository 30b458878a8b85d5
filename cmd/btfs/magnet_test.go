package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/btfs/btfs/internal/wait"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/fs"
	"github.com/btfs/btfs/internal/testproc"
	"github.com/btfs/btfs/metainfo"
)

// magnetFiles is the content the magnet tests share: a directory of three
// files, one of them in a subdirectory.
var magnetFiles = map[string]int64{"episode1.mkv": 2<<20 + 777, "subs/en.srt": 40000, "notes.txt": 12}

// magnetSwarm is a loopback swarm for one torrent: a btfs tracker (unless
// told not to), a btfs seed, and the torrent's magnet link.
type magnetSwarm struct {
	work, src   string // src holds the content, under "show"
	mi          *metainfo.MetaInfo
	trackerAddr string // "" without a tracker
	tracker     *testproc.Proc
	seedAddr    string
	seeder      *testproc.Proc
}

// startMagnetSwarm writes the content and its torrent (64 KiB pieces) and
// starts the tracker (withTracker) and, with seed, the seeder, waiting
// until the tracker knows it.
func startMagnetSwarm(t *testing.T, withTracker, seed bool) *magnetSwarm {
	t.Helper()
	s := &magnetSwarm{work: t.TempDir()}
	s.src = filepath.Join(s.work, "src")
	writeRandomTree(t, filepath.Join(s.src, "show"), magnetFiles, sha256.Sum256([]byte(t.Name())))
	args := []string{"-l", "64KiB"}
	if withTracker {
		s.trackerAddr = fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(t))
		s.tracker = testproc.Start(t, s.work, btfsBin, "tracker", "--listen", s.trackerAddr, "--udp", "", "--interval", "1m")
		s.tracker.WaitListening(t, s.trackerAddr, 10*time.Second)
		args = append(args, "-t", "http://"+s.trackerAddr+"/announce")
	}
	s.mi = createTorrent(t, filepath.Join(s.work, "show.torrent"), append(args, filepath.Join(s.src, "show"))...)
	if seed {
		s.startSeeder(t)
	}
	return s
}

func (s *magnetSwarm) startSeeder(t *testing.T) {
	t.Helper()
	port := testproc.FreePort(t)
	s.seedAddr = fmt.Sprintf("127.0.0.1:%d", port)
	s.seeder = testproc.Start(t, s.work, btfsBin, "seed", "--no-dht", "--listen", "127.0.0.1", "--port", fmt.Sprint(port),
		"-d", s.src, filepath.Join(s.work, "show.torrent"))
	s.seeder.WaitListening(t, s.seedAddr, 20*time.Second)
	if s.trackerAddr != "" {
		wait.For(t, "the seeder to announce", 20*time.Second, func() bool { return trackerSeeders(s.trackerAddr) == 1 })
	}
}

// link is the torrent's magnet link with the display name "My Show", the
// tracker if there is one, and peers as x.pe.
func (s *magnetSwarm) link(peers ...string) string {
	l := "magnet:?xt=urn:btih:" + s.mi.InfoHash.String() + "&dn=My+Show"
	if s.trackerAddr != "" {
		l += "&tr=" + url.QueryEscape("http://"+s.trackerAddr+"/announce")
	}
	for _, p := range peers {
		l += "&x.pe=" + p
	}
	return l
}

// checkFiles compares every file under root (the torrent's directory, in a
// mount or a download) with the source, by SHA-1.
func (s *magnetSwarm) checkFiles(t *testing.T, root string) {
	t.Helper()
	files := slices.Sorted(maps.Keys(magnetFiles))
	if listed := listFiles(t, root); !slices.Equal(listed, files) {
		t.Fatalf("%s lists %q, want %q", root, listed, files)
	}
	if diffs := treeDifferences(t, filepath.Join(s.src, "show"), root, files); len(diffs) > 0 {
		t.Fatalf("%s differs from the source: %s", root, strings.Join(diffs, "; "))
	}
}

// runBtfs runs the btfs binary with a deadline and returns its exit code
// and output. (The in-process btfs() would race with the parallel tests on
// urfave/cli's global flags.)
func runBtfs(t *testing.T, timeout time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, btfsBin, args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("btfs %q did not finish within %v:\n%s", args, timeout, errOut.String())
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// unmountAndWait runs btfs unmount and waits for the mount process to end
// well.
func unmountAndWait(t *testing.T, mnt string, mount *testproc.Proc) {
	t.Helper()
	if code, _, stderr := runBtfs(t, 20*time.Second, "unmount", mnt); code != exitOK {
		t.Fatalf("unmount: %s", stderr)
	}
	if err := mount.Wait(t, 20*time.Second); err != nil {
		t.Fatalf("mount exited with %v", err)
	}
}

// btfs mount of a magnet link, mounted before any peer has the torrent:
// the directory answers at once with only its note; once a seeder
// announces, the files appear and read as the source. The metadata and the
// pieces read stay in the cache: with the tracker and the seeder gone, a
// remount of the same link lists the files and reads them.
func TestMagnetMount(t *testing.T) {
	t.Parallel()
	requireFUSE(t)
	s := startMagnetSwarm(t, true, false)
	mnt, cacheDir := filepath.Join(s.work, "mnt"), filepath.Join(s.work, "cache")
	os.Mkdir(mnt, 0o755)
	mountArgs := []string{"mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0", "--cache-dir", cacheDir, s.link(), mnt}
	mount := testproc.Start(t, s.work, btfsBin, mountArgs...)
	wait.For(t, "the mount", 20*time.Second, func() bool { return strings.Contains(mount.Output(), "msg=mounted") })

	start := time.Now()
	entries, err := os.ReadDir(mnt)
	if took := time.Since(start); err != nil || took > 2*time.Second || len(entries) != 1 || entries[0].Name() != fs.PendingFile {
		t.Fatalf("the mount waiting for its metadata lists %v, %v (in %v); want only %s at once", entries, err, took, fs.PendingFile)
	}
	note, err := os.ReadFile(filepath.Join(mnt, fs.PendingFile))
	if err != nil || !strings.Contains(string(note), s.mi.InfoHash.String()) || !strings.Contains(string(note), "My Show") {
		t.Fatalf("%s: %q, %v", fs.PendingFile, note, err)
	}

	s.startSeeder(t)
	wait.For(t, "the files to appear", 40*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(mnt, "show", "notes.txt"))
		return err == nil
	})
	if _, err := os.Stat(filepath.Join(mnt, fs.PendingFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the note once the files are shown: %v", err)
	}
	s.checkFiles(t, filepath.Join(mnt, "show"))
	unmountAndWait(t, mnt, mount)

	if code, out, stderr := runBtfs(t, 20*time.Second, "cache", "ls", "--cache-dir", cacheDir); code != exitOK ||
		!strings.Contains(out, s.mi.InfoHash.String()) || !strings.Contains(out, "show") {
		t.Fatalf("cache ls after the magnet mount: exit %d\n%s%s", code, out, stderr)
	}

	s.seeder.Stop()
	s.tracker.Stop()
	remount := testproc.Start(t, s.work, btfsBin, mountArgs...)
	wait.For(t, "the remount to list the files", 20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(mnt, "show", "notes.txt"))
		return err == nil
	})
	s.checkFiles(t, filepath.Join(mnt, "show"))
	unmountAndWait(t, mnt, remount)
	if out := remount.Output(); !strings.Contains(out, `msg="metadata from the cache"`) {
		t.Fatalf("the remount did not take the metadata from the cache:\n%s", out)
	}
}

// btfs info of a magnet link fetches the metadata through the link's
// tracker and prints the torrent as for its .torrent file (but for the
// creation date and creator, which are not in the metadata); the tracker
// then hears that the fetch left.
func TestMagnetInfo(t *testing.T) {
	t.Parallel()
	s := startMagnetSwarm(t, true, true)
	code, out, stderr := runBtfs(t, 30*time.Second, "info", "--no-dht", "--json", s.link())
	if code != exitOK {
		t.Fatalf("info --json of the magnet link: exit %d: %s", code, stderr)
	}
	var got infoJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	want := toInfoJSON(s.mi)
	want.CreationDate, want.CreatedBy = nil, ""
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
		t.Fatalf("info --json of the magnet link:\n%s\nof the .torrent:\n%s", g, w)
	}
	code, out, stderr = runBtfs(t, 30*time.Second, "info", "--no-dht", s.link())
	if code != exitOK || !strings.Contains(out, "Name:       show") || !strings.Contains(out, s.mi.InfoHash.String()) ||
		!strings.Contains(out, "episode1.mkv") || !strings.Contains(out, "en.srt") {
		t.Fatalf("info of the magnet link: exit %d\n%s%s", code, out, stderr)
	}
	wait.For(t, "the tracker to forget the fetch", 10*time.Second, func() bool {
		st, ok := trackerStats(s.trackerAddr)
		return ok && st.Seeders == 1 && st.Leechers == 0
	})
}

// btfs get of a magnet link whose only peer is its x.pe, the seeder, with
// no tracker at all: the metadata and then the data come from that peer.
// An unusable x.pe beside it is skipped with a warning.
func TestMagnetGet(t *testing.T) {
	t.Parallel()
	s := startMagnetSwarm(t, false, true)
	out := filepath.Join(s.work, "out")
	code, stdout, stderr := runBtfs(t, 60*time.Second, "get", "--no-dht", "-o", out, "--listen", "127.0.0.1", "--port", "0", s.link("127.0.0.1:0", s.seedAddr))
	if code != exitOK || !strings.Contains(stdout, "show: complete") || !strings.Contains(stderr, "x.pe=127.0.0.1:0 skipped") {
		t.Fatalf("get of the magnet link: exit %d\n%s%s", code, stdout, stderr)
	}
	s.checkFiles(t, filepath.Join(out, "show"))
}

// What a magnet link that cannot be followed does: an error that says why,
// exit status 1, and no mount left behind.
func TestMagnetErrors(t *testing.T) {
	t.Parallel()
	hash := strings.Repeat("ab", 20)
	closed := fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(t)) // nobody listens
	for _, tc := range []struct {
		args     []string
		inStderr string
	}{
		{[]string{"info", "--no-dht", "magnet:?xt=urn:btih:" + hash}, "no trackers (tr=) and no usable peers (x.pe=), and the DHT is off"},
		{[]string{"info", "--no-dht", "magnet:?dn=nothing"}, "invalid magnet link: no info-hash"},
		{[]string{"get", "--no-dht", "--port", "0", "magnet:?xt=urn:btih:" + hash + "&x.pe=bad"}, "x.pe=bad skipped"},
		{[]string{"info", "--no-dht", "--metadata-timeout", "1s", "magnet:?xt=urn:btih:" + hash + "&x.pe=" + closed}, "--metadata-timeout"},
	} {
		code, _, stderr := runBtfs(t, 30*time.Second, tc.args...)
		if code != exitRuntime || !strings.Contains(stderr, tc.inStderr) {
			t.Errorf("btfs %q: exit %d, %q; want 1 and %q", tc.args, code, stderr, tc.inStderr)
		}
	}

	requireFUSE(t)
	for _, wait := range []bool{true, false} {
		mnt := t.TempDir()
		args := []string{"mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0", "--cache-dir", t.TempDir(), "--metadata-timeout", "2s"}
		if wait {
			args = append(args, "--wait-metadata")
		}
		code, _, stderr := runBtfs(t, 60*time.Second, append(args, "magnet:?xt=urn:btih:"+hash+"&x.pe="+closed, mnt)...)
		if code != exitRuntime || !strings.Contains(stderr, "--metadata-timeout") {
			t.Errorf("mount (--wait-metadata %v) of a magnet link nobody serves: exit %d, %q", wait, code, stderr)
		}
		if entries, err := os.ReadDir(mnt); err != nil || len(entries) != 0 {
			t.Errorf("mountpoint after the failed mount (--wait-metadata %v): %v, %v", wait, entries, err)
		}
	}
}
