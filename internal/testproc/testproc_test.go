package testproc

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/leakcheck"
)

// TestMain checks that every process's waiting goroutine ends with its test.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.Main(m, "btfs/btfs/internal/testproc."))
}

func TestWaitAndOutput(t *testing.T) {
	sh := RequireTool(t, "sh")
	p := Start(t, t.TempDir(), sh, "-c", "echo out; echo err >&2; exit 3")
	err := p.Wait(t, 10*time.Second)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("ended with %v, want exit status 3", err)
	}
	if got := p.Output(); !strings.Contains(got, "out\n") || !strings.Contains(got, "err\n") {
		t.Fatalf("output %q, want both streams", got)
	}
}

// TestStop: a shell that would run for a minute ends when stopped: the
// interrupt reaches its foreground child too (the whole process group).
func TestStop(t *testing.T) {
	if signal.Ignored(os.Interrupt) {
		// A background job of a non-interactive shell: every child inherits
		// the ignored SIGINT, and only the SIGKILL after stopGrace ends it.
		t.Skip("SIGINT is ignored by this process, so by its children too")
	}
	sh := RequireTool(t, "sh")
	p := Start(t, t.TempDir(), sh, "-c", "sleep 60; echo not interrupted")
	start := time.Now()
	p.Stop()
	if p.Err() == nil {
		t.Fatal("an interrupted process exited with status 0")
	}
	if strings.Contains(p.Output(), "not interrupted") {
		t.Fatal("the child was not interrupted")
	}
	if d := time.Since(start); d >= stopGrace {
		t.Fatalf("stopping took %v", d)
	}
}

func TestWaitListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sh := RequireTool(t, "sh")
	p := Start(t, t.TempDir(), sh, "-c", "exec sleep 60")
	p.WaitListening(t, ln.Addr().String(), 10*time.Second)
	if port := FreePort(t); port <= 0 || port == ln.Addr().(*net.TCPAddr).Port {
		t.Fatalf("FreePort gave %s", strconv.Itoa(port))
	}
}
