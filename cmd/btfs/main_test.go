package main

import (
	"fmt"
	"github.com/btfs/btfs/internal/wait"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// btfsBin is the btfs binary built for the tests that run it as a process
// (interop tests, signals).
var btfsBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "btfs-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	btfsBin = filepath.Join(dir, "btfs")
	if out, err := exec.Command("go", "build", "-race", "-o", btfsBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building btfs: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// waitListening waits until something accepts TCP connections on addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	wait.For(t, addr+" to listen", 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}
