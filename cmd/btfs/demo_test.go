package main

import (
	"fmt"
	"github.com/btfs/btfs/internal/testproc"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The README's first command, run as a check: scripts/demo.sh --check builds
// btfs, runs a tracker, two seeders and a mount, verifies the video through
// the mount, checks btfs status --json and the metrics, and tears it all
// down. Its directory, ports and runtime directory are the test's own.
func TestDemoCheck(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this machine: the demo cannot mount here")
	}
	t.Parallel()
	work := t.TempDir()
	demo := filepath.Join(work, "demo")
	env := []string{
		"BTFS_DEMO_DIR=" + demo,
		fmt.Sprintf("BTFS_DEMO_PORT=%d", testproc.FreePort(t)),
		fmt.Sprintf("BTFS_DEMO_METRICS_PORT=%d", testproc.FreePort(t)),
		"XDG_RUNTIME_DIR=" + filepath.Join(work, "run"),
		"BTFS_DEMO_NO_INSTALL=1", // a test installs nothing
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	p := testproc.StartEnv(t, env, repo, "bash", "scripts/demo.sh", "--check")
	if err := p.Wait(t, 5*time.Minute); err != nil {
		t.Fatalf("demo.sh --check: %v\n%s", err, p.Output())
	}
	out := p.Output()
	for _, want := range []string{"matches the seeders' copy", "btfs status", "check passed", "no mount, no process left behind"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the demo's output:\n%s", want, out)
		}
	}
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), demo) {
		t.Errorf("the demo left a mount:\n%s", mounts)
	}
	if left := processesRunning(filepath.Join(demo, "btfs")); len(left) > 0 {
		t.Errorf("the demo left processes running: %v", left)
	}
}

// processesRunning lists the pids of processes whose command line starts
// with bin.
func processesRunning(bin string) []string {
	var pids []string
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range cmdlines {
		b, err := os.ReadFile(c)
		if err == nil && strings.HasPrefix(string(b), bin+"\x00") {
			pids = append(pids, filepath.Base(filepath.Dir(c)))
		}
	}
	return pids
}
