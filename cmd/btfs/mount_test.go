package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"github.com/btfs/btfs/internal/testproc"
	"github.com/btfs/btfs/internal/wait"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The whole architecture on loopback, as processes: btfs tracker, btfs seed,
// btfs mount; a file read through the mount has the seeder's bytes; btfs
// unmount ends the mount process cleanly.
func TestMountEndToEnd(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
	work := t.TempDir()
	src := filepath.Join(work, "src", "show")
	for name, size := range map[string]int{"episode1.mkv": 3<<20 + 777, "subs/en.srt": 40000, "notes.txt": 12} {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		data := make([]byte, size)
		rand.Read(data)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	trackerAddr := fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(t))
	testproc.Start(t, work, btfsBin, "tracker", "--listen", trackerAddr, "--udp", "", "--interval", "1m")
	waitListening(t, trackerAddr)
	torrent := filepath.Join(work, "show.torrent")
	if code, _, stderr := btfs(t, "create", "-t", "http://"+trackerAddr+"/announce", "-l", "64KiB", "-o", torrent, src); code != exitOK {
		t.Fatalf("create: %s", stderr)
	}
	seedPort := testproc.FreePort(t)
	seeder := testproc.Start(t, work, btfsBin, "seed", "--no-dht", "--listen", "127.0.0.1", "--port", fmt.Sprint(seedPort), "-d", filepath.Join(work, "src"), torrent)
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", seedPort))

	mnt := filepath.Join(work, "mnt")
	os.Mkdir(mnt, 0o755)
	mount := testproc.Start(t, work, btfsBin, "mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0",
		"--cache-dir", filepath.Join(work, "cache"), torrent, mnt)
	wait.For(t, "the mount", 20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(mnt, "show", "notes.txt"))
		return err == nil
	})
	for _, name := range []string{"episode1.mkv", "subs/en.srt", "notes.txt"} {
		want := sha1File(t, filepath.Join(src, name))
		if got := sha1File(t, filepath.Join(mnt, "show", name)); got != want {
			t.Fatalf("%s through the mount: sha1 %s, want %s", name, got, want)
		}
	}
	if code, _, stderr := btfs(t, "unmount", mnt); code != exitOK {
		t.Fatalf("unmount: %s", stderr)
	}
	if err := mount.Wait(t, 20*time.Second); err != nil {
		t.Fatalf("mount exited with %v", err)
	}
	if out := mount.Output(); !strings.Contains(out, "unmounted") {
		t.Fatalf("mount log:\n%s", out)
	}
	// The mount said "stopped": the tracker is left with the seeder alone.
	wait.For(t, "the tracker to forget the mount", 10*time.Second, func() bool {
		s, ok := trackerStats(trackerAddr)
		return ok && s.Seeders == 1 && s.Leechers == 0
	})

	// Every piece read went into the cache: with the seeder gone, a
	// remount serves the same bytes from the cache alone.
	seeder.Stop()
	if _, out, _ := btfs(t, "cache", "ls", "--cache-dir", filepath.Join(work, "cache")); !strings.Contains(out, "show") {
		t.Fatalf("cache ls after the mount:\n%s", out)
	}
	remount := testproc.Start(t, work, btfsBin, "mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0",
		"--cache-dir", filepath.Join(work, "cache"), torrent, mnt)
	wait.For(t, "the remount", 20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(mnt, "show", "notes.txt"))
		return err == nil
	})
	for _, name := range []string{"episode1.mkv", "subs/en.srt", "notes.txt"} {
		if got, want := sha1File(t, filepath.Join(mnt, "show", name)), sha1File(t, filepath.Join(src, name)); got != want {
			t.Fatalf("%s from the cache: sha1 %s, want %s", name, got, want)
		}
	}
	if code, _, stderr := btfs(t, "unmount", mnt); code != exitOK {
		t.Fatalf("unmount: %s", stderr)
	}
	if err := remount.Wait(t, 20*time.Second); err != nil {
		t.Fatalf("remount exited with %v", err)
	}
	if out := remount.Output(); !strings.Contains(out, "have=") || strings.Contains(out, "have=0/") {
		t.Fatalf("the remount did not find the pieces in the cache:\n%s", out)
	}
}

// trackerStats reads a btfs tracker's /stats; ok is false if it did not answer.
func trackerStats(addr string) (s struct{ Seeders, Leechers int }, ok bool) {
	resp, err := http.Get("http://" + addr + "/stats")
	if err != nil {
		return s, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return s, err == nil && json.Unmarshal(body, &s) == nil
}

// trackerSeeders is the number of seeders a btfs tracker knows, or -1.
func trackerSeeders(addr string) int {
	if s, ok := trackerStats(addr); ok {
		return s.Seeders
	}
	return -1
}

func sha1File(t *testing.T, path string) string {
	t.Helper()
	sum, err := fileSHA1Hex(path)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// kill -9 of a mount command leaves no stale mount: the session process
// that serves the mount unmounts it when the command's connection closes.
// A session process that dies does leave one; mounting there again says
// what is wrong and how to fix it, and btfs unmount clears it.
func TestStaleMount(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
	work := t.TempDir()
	content := filepath.Join(work, "one.bin")
	os.WriteFile(content, make([]byte, 100000), 0o644)
	torrent := filepath.Join(work, "one.torrent")
	if code, _, stderr := btfs(t, "create", "-o", torrent, content); code != exitOK {
		t.Fatal(stderr)
	}
	mnt := filepath.Join(work, "mnt")
	os.Mkdir(mnt, 0o755)
	cacheDir := filepath.Join(work, "cache")
	args := []string{"mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0", "--cache-dir", cacheDir, torrent, mnt}
	first := testproc.Start(t, work, btfsBin, args...)
	wait.For(t, "the mount", 20*time.Second, func() bool { return strings.Contains(first.Output(), "msg=mounted") })
	first.Kill()
	wait.For(t, "the session to unmount the killed command's mount", 20*time.Second, func() bool { return !mounted(t, mnt) })
	wait.For(t, "the session to exit", 20*time.Second, func() bool { return len(sessionPIDs(cacheDir)) == 0 })

	second := testproc.Start(t, work, btfsBin, args...)
	wait.For(t, "the mount", 20*time.Second, func() bool { return strings.Contains(second.Output(), "msg=mounted") })
	pids := sessionPIDs(cacheDir)
	if len(pids) != 1 {
		t.Fatalf("session processes for %s: %v", cacheDir, pids)
	}
	syscall.Kill(pids[0], syscall.SIGKILL)
	if err := second.Wait(t, 20*time.Second); err == nil || !strings.Contains(second.Output(), "ended unexpectedly") {
		t.Fatalf("the mount command after its session was killed: %v\n%s", err, second.Output())
	}

	code, _, stderr := btfs(t, args...)
	if code != exitRuntime || !strings.Contains(stderr, "stale mount") || !strings.Contains(stderr, "btfs unmount") {
		t.Fatalf("mount over a stale mount: exit %d, %q", code, stderr)
	}
	if code, _, stderr := btfs(t, "unmount", mnt); code != exitOK {
		t.Fatalf("unmount of the stale mount: %s", stderr)
	}
	if entries, err := os.ReadDir(mnt); err != nil || len(entries) != 0 {
		t.Fatalf("after unmount: %v, %v", entries, err)
	}
}

// mounted reports whether dir is a mountpoint.
func mounted(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == dir {
			return true
		}
	}
	return false
}

// sessionPIDs lists the btfs session processes that hold cacheDir.
func sessionPIDs(cacheDir string) []int {
	var pids []int
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range cmdlines {
		b, err := os.ReadFile(c)
		if err != nil || !strings.HasPrefix(string(b), btfsBin+"\x00") {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if slices.Contains(args, "session") && slices.Contains(args, cacheDir) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(c)))
			pids = append(pids, pid)
		}
	}
	return pids
}

// A copy of the mount in another mount namespace (unshare -m, a container
// starting) keeps the kernel's end open after our unmount; the mount
// process notices its mount is gone and exits instead of serving nobody.
func TestMountExitsWhenUnmountedButCopied(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and unshare(1) to make a mount namespace")
	}
	work := t.TempDir()
	cacheDir := filepath.Join(work, "cache")
	torrent, _ := cachedTorrent(t, cacheDir, "copied.bin", "", 0, 1, 2, 3, 4, 5, 6, 7)
	mnt := filepath.Join(work, "mnt")
	os.Mkdir(mnt, 0o755)
	mount := testproc.Start(t, work, btfsBin, "mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0", "--cache-dir", cacheDir, torrent, mnt)
	wait.For(t, "the mount", 20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(mnt, "copied.bin"))
		return err == nil
	})
	holder := testproc.Start(t, work, unshare, "-m", "--propagation", "private", "sleep", "120")
	wait.For(t, "the copied mount namespace", 10*time.Second, func() bool {
		// unshare execs sleep once the namespace is made.
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", holder.Pid()))
		return err == nil && strings.TrimSpace(string(comm)) == "sleep"
	})
	if code, _, stderr := btfs(t, "unmount", mnt); code != exitOK {
		t.Fatalf("unmount: %s", stderr)
	}
	if err := mount.Wait(t, 15*time.Second); err != nil {
		t.Fatalf("mount exited with %v", err)
	}
}
