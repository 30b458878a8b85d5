package cache

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A cache directory on a read-only filesystem says so, and where to go; it
// used to advise removing the directory, which cannot help.
func TestReadOnlyCacheDir(t *testing.T) {
	disk := mountTmpfs(t, 32<<20)
	dir := filepath.Join(disk, "cache")
	c := open(t, dir, Options{MaxSize: MinMaxSize})
	c.Close()
	if out, err := exec.Command("mount", "-o", "remount,ro", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v: %s", err, out)
	}
	for _, d := range []string{dir, filepath.Join(disk, "new")} {
		_, err := Open(d, Options{MaxSize: MinMaxSize})
		if err == nil {
			t.Fatalf("%s: opened on a read-only filesystem", d)
		}
		msg := err.Error()
		if !strings.Contains(msg, "read-only filesystem") || !strings.Contains(msg, "--cache-dir") || strings.Contains(msg, "remove the directory") {
			t.Fatalf("%s: the error does not say what is wrong and what to do: %v", d, err)
		}
	}
}

// With no bound given, the cache takes a share of what the disk has room
// for, and refuses a disk too small for its minimum with a message saying so.
func TestDefaultBoundFitsTheDisk(t *testing.T) {
	disk := mountTmpfs(t, 64<<20)
	c := open(t, filepath.Join(disk, "cache"), Options{})
	if got, want := c.MaxSize(), int64(64<<20)/100*DefaultDiskShare; got > want || got < want-(1<<20) {
		t.Fatalf("default bound on a 64 MiB disk: %d, want about %d", got, want)
	}
	small := mountTmpfs(t, 8<<20)
	_, err := Open(filepath.Join(small, "cache"), Options{})
	if err == nil || !strings.Contains(err.Error(), "--cache-dir") {
		t.Fatalf("a disk too small for the cache: %v", err)
	}
}
