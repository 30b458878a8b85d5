package holders

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/wait"
)

// TestFind: a process whose working directory is under the directory, one
// with a file of it open, and this test mapping a file of it are found; a
// process elsewhere is not.
func TestFind(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub dir")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(sub, "data")
	if err := os.WriteFile(file, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := func(dir string, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	inside := start(sub, "sleep", "60")
	opener := start(os.TempDir(), "sh", "-c", `exec 3<"$0"; exec sleep 60`, file)
	outside := start(os.TempDir(), "sleep", "60")

	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, 4096, syscall.PROT_READ, syscall.MAP_SHARED)
	f.Close() // the mapping alone keeps it in use
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)

	want := map[int]string{inside.Process.Pid: "cwd", opener.Process.Pid: "fd 3 " + file, os.Getpid(): "mmap " + file}
	var ps []Process
	wait.For(t, "Find to see the three holders", 10*time.Second, func() bool { // sh opens the file, then becomes sleep
		if ps, _, err = Find(dir); err != nil {
			t.Fatal(err)
		}
		return found(ps, want)
	})
	for _, p := range ps {
		if p.PID == outside.Process.Pid {
			t.Errorf("a process outside the directory was found: %v", p)
		}
	}
	if d := Describe(ps, true); !strings.Contains(d, "(sleep: cwd)") || !strings.HasSuffix(d, "and more") {
		t.Errorf("Describe: %q", d)
	}
}

func found(ps []Process, want map[int]string) bool {
	n := 0
	for _, p := range ps {
		if use, ok := want[p.PID]; ok && slices.Contains(p.Uses, use) {
			n++
		}
	}
	return n == len(want)
}

func TestUnder(t *testing.T) {
	for _, tt := range []struct {
		path, dir string
		want      bool
	}{
		{"/mnt/x", "/mnt/x", true}, {"/mnt/x/a", "/mnt/x", true}, {"/mnt/x/a (deleted)", "/mnt/x", true},
		{"/mnt/xy", "/mnt/x", false}, {"/mnt", "/mnt/x", false}, {"/a", "/", true},
	} {
		if got := under(tt.path, tt.dir); got != tt.want {
			t.Errorf("under(%q, %q) = %v", tt.path, tt.dir, got)
		}
	}
}
