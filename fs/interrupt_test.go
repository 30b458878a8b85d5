package fs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/btfs/btfs/fs"
	"github.com/btfs/btfs/internal/wait"
)

// blockedRead is a pread on a thread of its own, so that signals can be
// sent to the thread that waits in the kernel.
type blockedRead struct {
	tid  int
	done chan readEnd
}

type readEnd struct {
	err   error
	eintr int // interrupted reads retried
	took  time.Duration
}

// startRead preads 64 KiB at off of path; retry says whether an
// interrupted pread is made again (as Go and Python do after EINTR) or
// ends the read (as a program whose SIGINT handler gives up does).
func startRead(t *testing.T, path string, off int64, retry bool) *blockedRead {
	t.Helper()
	fd, err := syscall.Open(path, syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	r := &blockedRead{done: make(chan readEnd, 1)}
	tid := make(chan int)
	go func() {
		runtime.LockOSThread() // the thread ends with the goroutine
		tid <- syscall.Gettid()
		start := time.Now()
		var end readEnd
		for {
			_, err := syscall.Pread(fd, make([]byte, 64<<10), off)
			if errors.Is(err, syscall.EINTR) {
				end.eintr++
				if retry {
					continue
				}
			}
			end.err, end.took = err, time.Since(start)
			r.done <- end
			return
		}
	}()
	r.tid = <-tid
	return r
}

// signal sends SIGURG to the reading thread: the Go runtime's own
// preemption signal, handled, like SIGINT in Python or a player.
func (r *blockedRead) signal() error {
	return syscall.Tgkill(os.Getpid(), r.tid, syscall.SIGURG)
}

// video is the path of the swarm's 6 MiB file in the mount.
func (s *swarm) video() string { return filepath.Join(s.mnt, s.mi.Info.Name, "video.mkv") }

// urgentLeft is what the engine still does for reads: reads waiting, and
// pieces at Urgent priority.
func urgentLeft(t *testing.T, s *swarm) (waiting, urgent int) {
	st, err := s.leecher.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Waiting, st.Urgent
}

// A reader that takes a signal every 2 ms (as a Go program reading through
// mmap takes the runtime's preemption signals) still times out: each
// interrupted READ, sent again, continues the clock of the first. Then no
// piece stays Urgent for a read no one waits for.
func TestReadTimeoutWithSignals(t *testing.T) {
	const timeout = time.Second
	s := startSwarmOpts(t, true, fs.Options{ReadTimeout: timeout})
	r := startRead(t, s.video(), 3<<20, true)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.After(10 * timeout)
	var end readEnd
	for stop := false; !stop; {
		select {
		case end = <-r.done:
			stop = true
		case <-tick.C:
			r.signal()
		case <-giveUp:
			tick.Stop()
			end = <-r.done // without signals the last READ times out
			t.Fatalf("the read took %v under signals (%d interrupts), with a %v timeout: %v", end.took, end.eintr, timeout, end.err)
		}
	}
	if !errors.Is(end.err, syscall.EIO) || end.took > 2*timeout {
		t.Fatalf("the read ended after %v with %v; want EIO after the %v timeout", end.took, end.err, timeout)
	}
	if end.eintr == 0 {
		t.Fatal("no READ was interrupted: the test did not test signals")
	}
	t.Logf("EIO after %v, %d interrupted READs retried", end.took, end.eintr)
	wait.For(t, "no read waiting and no piece Urgent", 5*time.Second, func() bool {
		w, u := urgentLeft(t, s)
		return w == 0 && u == 0
	})
}

// With a read timeout and no signals, the first read of a region fails
// once the timeout has passed, not twice that: the kernel's retry of its
// failed readahead continues the same clock.
func TestReadTimeoutCountsOnce(t *testing.T) {
	const timeout = 2 * time.Second
	s := startSwarmOpts(t, true, fs.Options{ReadTimeout: timeout})
	end := <-startRead(t, s.video(), 1<<20, true).done
	if !errors.Is(end.err, syscall.EIO) || end.took > timeout*3/2 {
		t.Fatalf("the read ended after %v with %v; want EIO after the %v timeout", end.took, end.err, timeout)
	}
}

// A signal to a thread blocked on missing data ends its read with EINTR
// even when the program handles the signal (Ctrl-C in Python), and the
// read's wait is withdrawn: no piece stays Urgent.
func TestSignalEndsBlockedRead(t *testing.T) {
	s := startSwarm(t, true)
	r := startRead(t, s.video(), 2<<20, false)
	wait.For(t, "the read to wait for its piece", 10*time.Second, func() bool {
		w, _ := urgentLeft(t, s)
		return w > 0
	})
	start := time.Now()
	if err := r.signal(); err != nil {
		t.Fatal(err)
	}
	select {
	case end := <-r.done:
		if !errors.Is(end.err, syscall.EINTR) || time.Since(start) > time.Second {
			t.Fatalf("the signalled read ended after %v with %v; want EINTR at once", time.Since(start), end.err)
		}
	case <-time.After(5 * time.Second):
		s.unmount() // ends the read
		t.Fatalf("the read still waits 5 s after its thread took a signal: %v", (<-r.done).err)
	}
	if w, u := urgentLeft(t, s); w != 0 || u != 0 {
		t.Fatalf("after the interrupted read: %d reads waiting, %d pieces Urgent; want none", w, u)
	}
}
