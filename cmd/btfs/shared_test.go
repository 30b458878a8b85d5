package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/testproc"
	"github.com/btfs/btfs/internal/wait"
)

// Two mount commands with the default cache directory share it: the
// second reads what the first fetched with the seeder and the tracker
// gone (only the shared cache has the bytes); Ctrl-C of one ends its
// mountpoint alone; kill -9 of one leaves the other's mount working.
func TestTwoMountsOneCache(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
	work := t.TempDir()
	env := []string{"XDG_CACHE_HOME=" + filepath.Join(work, "xdg-cache"), "XDG_RUNTIME_DIR=" + filepath.Join(work, "run")}
	cacheDir := filepath.Join(work, "xdg-cache", "btfs") // the default under that XDG_CACHE_HOME
	src := filepath.Join(work, "src", "show")
	files := map[string]int{"episode.mkv": 1<<20 + 4321, "notes.txt": 77}
	for name, size := range files {
		data := make([]byte, size)
		rand.Read(data)
		os.MkdirAll(src, 0o755)
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	trackerAddr := fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(t))
	tracker := testproc.StartEnv(t, env, work, btfsBin, "tracker", "--listen", trackerAddr, "--udp", "", "--interval", "1m")
	waitListening(t, trackerAddr)
	torrent := filepath.Join(work, "show.torrent")
	if code, _, stderr := btfs(t, "create", "-t", "http://"+trackerAddr+"/announce", "-l", "64KiB", "-o", torrent, src); code != exitOK {
		t.Fatalf("create: %s", stderr)
	}
	seedPort := testproc.FreePort(t)
	seeder := testproc.StartEnv(t, env, work, btfsBin, "seed", "--no-dht", "--listen", "127.0.0.1", "--port", fmt.Sprint(seedPort),
		"-d", filepath.Join(work, "src"), torrent)
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", seedPort))

	mount := func(mnt string) *testproc.Proc {
		os.MkdirAll(mnt, 0o755)
		p := testproc.StartEnv(t, env, work, btfsBin, "mount", "--no-dht", "--listen", "127.0.0.1", torrent, mnt)
		wait.For(t, mnt+" mounted", 20*time.Second, func() bool {
			_, err := os.Stat(filepath.Join(mnt, "show", "notes.txt"))
			return err == nil
		})
		return p
	}
	checkFiles := func(mnt string) {
		t.Helper()
		for name := range files {
			if got, want := sha1File(t, filepath.Join(mnt, "show", name)), sha1File(t, filepath.Join(src, name)); got != want {
				t.Fatalf("%s through %s: sha1 %s, want %s", name, mnt, got, want)
			}
		}
	}

	mnt1, mnt2 := filepath.Join(work, "mnt1"), filepath.Join(work, "mnt2")
	first := mount(mnt1)
	checkFiles(mnt1)

	// seed --from-cache and get beside the mount: the seed joins the
	// mount's session, get runs a session of its own.
	seedCache := testproc.StartEnv(t, env, work, btfsBin, "seed", "--from-cache", "--no-dht", "--listen", "127.0.0.1", torrent)
	wait.For(t, "seed --from-cache to start", 20*time.Second, func() bool { return strings.Contains(seedCache.Output(), "Ctrl-C to stop") })
	out := filepath.Join(work, "out")
	get := testproc.StartEnv(t, env, work, btfsBin, "get", "--no-dht", "--listen", "127.0.0.1", "-o", out, torrent)
	if err := get.Wait(t, 60*time.Second); err != nil {
		t.Fatalf("get beside a mount: %v\n%s", err, get.Output())
	}
	for name := range files {
		if got, want := sha1File(t, filepath.Join(out, "show", name)), sha1File(t, filepath.Join(src, name)); got != want {
			t.Fatalf("%s by get: sha1 %s, want %s", name, got, want)
		}
	}
	seedCache.Stop()
	if err := seedCache.Err(); err != nil || !mounted(t, mnt1) {
		t.Fatalf("seed --from-cache after SIGINT: %v (the mount is there: %v)\n%s", err, mounted(t, mnt1), seedCache.Output())
	}
	seeder.Stop()
	tracker.Stop()
	second := mount(mnt2)
	checkFiles(mnt2)
	if pids := sessionPIDs(cacheDir); len(pids) != 1 {
		t.Fatalf("session processes for the default cache: %v", pids)
	}

	// Ctrl-C of the second command: its mountpoint goes, the first stays.
	second.Stop()
	if err := second.Err(); err != nil {
		t.Fatalf("the second mount after SIGINT: %v\n%s", err, second.Output())
	}
	if !strings.Contains(second.Output(), "unmounted") || mounted(t, mnt2) {
		t.Fatalf("after SIGINT %s is still mounted:\n%s", mnt2, second.Output())
	}
	if !mounted(t, mnt1) {
		t.Fatal("SIGINT of the second mount command unmounted the first")
	}
	checkFiles(mnt1)

	// kill -9 of the first command: the session unmounts its mountpoint,
	// and a mount beside it keeps working.
	third := mount(mnt2)
	first.Kill()
	wait.For(t, mnt1+" unmounted after kill -9 of its command", 20*time.Second, func() bool { return !mounted(t, mnt1) })
	checkFiles(mnt2)

	third.Stop()
	if err := third.Err(); err != nil {
		t.Fatalf("the last mount after SIGINT: %v\n%s", err, third.Output())
	}
	if pids := sessionPIDs(cacheDir); len(pids) != 0 {
		t.Fatalf("the session outlived its last client: %v", pids)
	}
	if code, out, stderr := btfs(t, "cache", "ls", "--cache-dir", cacheDir); code != exitOK || !strings.Contains(out, "show") {
		t.Fatalf("cache ls after the last mount: exit %d: %s%s", code, out, stderr)
	}
}
