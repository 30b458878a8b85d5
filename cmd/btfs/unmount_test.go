package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/holders"
	"github.com/btfs/btfs/internal/testproc"
	"github.com/btfs/btfs/internal/wait"
)

// stalledMount mounts a torrent that no peer serves, so that every read of
// it blocks, and returns the mount process and the path of its one file.
func stalledMount(t *testing.T) (mount *testproc.Proc, mnt, file string) {
	t.Helper()
	requireFUSE(t)
	work := t.TempDir()
	src := filepath.Join(work, "stalled.bin")
	if err := os.WriteFile(src, []byte(strings.Repeat("s", 100000)), 0o644); err != nil {
		t.Fatal(err)
	}
	torrent := filepath.Join(work, "stalled.torrent")
	closed := fmt.Sprintf("http://127.0.0.1:%d/announce", testproc.FreePort(t)) // nobody answers
	if code, _, stderr := btfs(t, "create", "-t", closed, "-o", torrent, src); code != exitOK {
		t.Fatalf("create: %s", stderr)
	}
	mnt = filepath.Join(work, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	mount = testproc.Start(t, work, btfsBin, "mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0",
		"--cache-dir", filepath.Join(work, "cache"), torrent, mnt)
	file = filepath.Join(mnt, "stalled.bin")
	wait.For(t, "the mount", 20*time.Second, func() bool {
		_, err := os.Stat(file)
		return err == nil
	})
	return mount, mnt, file
}

// usedBy waits until Find sees p use dir.
func usedBy(t *testing.T, dir string, p *testproc.Proc) {
	t.Helper()
	wait.For(t, fmt.Sprintf("pid %d to use %s", p.Pid(), dir), 10*time.Second, func() bool {
		ps, _, err := holders.Find(dir)
		for _, h := range ps {
			if h.PID == p.Pid() {
				return true
			}
		}
		return err != nil
	})
}

// btfs unmount of a mount with a blocked reader says who holds it and what
// to do; --lazy then detaches it, and the mount process exits cleanly.
func TestUnmountBusy(t *testing.T) {
	mount, mnt, file := stalledMount(t)
	reader := testproc.Start(t, t.TempDir(), "cat", file)
	usedBy(t, mnt, reader)

	code, _, stderr := runBtfs(t, 20*time.Second, "unmount", mnt)
	want := fmt.Sprintf("in use by pid %d (cat: fd ", reader.Pid())
	if code != exitRuntime || !strings.Contains(stderr, want) || !strings.Contains(stderr, "btfs unmount --lazy "+mnt) {
		t.Fatalf("unmount of a busy mount: exit %d, %q; want 1 naming the reader (%q) and --lazy", code, stderr, want)
	}
	if code, _, stderr := runBtfs(t, 20*time.Second, "unmount", mnt, "--lazy"); code != exitOK {
		t.Fatalf("unmount --lazy: exit %d, %s", code, stderr)
	}
	if err := mount.Wait(t, 20*time.Second); err != nil {
		t.Fatalf("mount exited with %v\n%s", err, mount.Output())
	}
	if err := reader.Wait(t, 20*time.Second); err == nil {
		t.Errorf("the blocked reader ended well after the mount was gone:\n%s", reader.Output())
	}
	if entries, err := os.ReadDir(mnt); err != nil || len(entries) != 0 {
		t.Fatalf("the mountpoint after unmount --lazy: %v, %v", entries, err)
	}
}

// SIGINT to a mount that a process keeps busy (its working directory is
// inside) ends the blocked reads, detaches the mount lazily, exits cleanly,
// and says so: the log names the process and speaks of no other namespace.
func TestInterruptBusyMount(t *testing.T) {
	mount, mnt, file := stalledMount(t)
	reader := testproc.Start(t, t.TempDir(), "cat", file)
	shell := testproc.Start(t, mnt, "sleep", "60")
	usedBy(t, mnt, reader)
	usedBy(t, mnt, shell)

	mount.Stop()
	out := mount.Output()
	if mount.Err() != nil {
		t.Fatalf("mount exited with %v after SIGINT:\n%s", mount.Err(), out)
	}
	if !strings.Contains(out, "detached lazily") || !strings.Contains(out, fmt.Sprintf("pid %d (sleep: cwd)", shell.Pid())) {
		t.Errorf("the mount's log does not say it detached lazily, naming the shell:\n%s", out)
	}
	if strings.Contains(out, "namespace") {
		t.Errorf("the mount's log blames another namespace for its own lazy detach:\n%s", out)
	}
	if err := reader.Wait(t, 20*time.Second); err == nil {
		t.Errorf("the blocked reader ended well:\n%s", reader.Output())
	}
}
