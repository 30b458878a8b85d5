// Package testproc runs the third-party programs of interop tests (aria2c,
// transmission-cli, opentracker...) as processes owned by a test: each is
// stopped when its test ends, and its output is shown when the test fails.
package testproc

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long a process has to exit after SIGINT before it gets
// SIGKILL.
const stopGrace = 10 * time.Second

// Proc is a process a test started.
type Proc struct {
	cmd  *exec.Cmd
	name string
	mu   sync.Mutex // guards out
	out  bytes.Buffer
	done chan struct{}
	err  error // set before done is closed
}

// RequireTool finds a program. scripts/test.sh installs the interop tools
// and sets BTFS_REQUIRE_INTEROP, so there a missing one fails the test
// instead of skipping it.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("BTFS_REQUIRE_INTEROP") != "" {
			t.Fatalf("%s is not installed (scripts/test.sh installs it)", name)
		}
		t.Skipf("%s is not installed; run scripts/test.sh to install the interop tools", name)
	}
	return p
}

// Start runs name with args in dir until the test ends: then it gets SIGINT
// (its whole process group) and, if it has not exited within 10 s, SIGKILL.
// Its output is logged if the test failed, or always with BTFS_INTEROP_LOG
// set. The proxy variables of the environment are left out: these programs
// talk to peers and trackers on loopback, which no proxy must see.
func Start(t testing.TB, dir, name string, args ...string) *Proc {
	t.Helper()
	return StartEnv(t, nil, dir, name, args...)
}

// StartEnv is Start with env (KEY=value) added to the environment.
func StartEnv(t testing.TB, env []string, dir, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{cmd: exec.Command(name, args...), name: filepath.Base(name), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p, p
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasSuffix(strings.ToLower(k), "_proxy") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // signals reach its children too
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() || os.Getenv("BTFS_INTEROP_LOG") != "" {
			t.Logf("output of %s %q:\n%s", p.name, args, p.Output())
		}
	})
	return p
}

func (p *Proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Output returns what the process has written so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is how the process ended (nil: exit status 0); valid once Done is
// closed.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Wait waits up to timeout for the process to exit by itself and returns how
// it ended, failing the test if it is still running.
func (p *Proc) Wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("%s did not finish within %v", p.name, timeout)
		return nil
	}
}

// Pid is the process's id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Kill ends the process group with SIGKILL, as a crash would, and waits.
func (p *Proc) Kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Stop interrupts the process and waits for it to exit.
func (p *Proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// WaitListening waits up to timeout until something accepts TCP connections
// on addr, failing the test if p exits or the time passes first.
func (p *Proc) WaitListening(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not listening on %s after %v", p.name, addr, timeout)
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before listening on %s", p.name, p.err, addr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FreePort returns a loopback TCP port that was free a moment ago (and the
// same number is then very likely free for UDP too).
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
