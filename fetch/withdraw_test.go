package fetch

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/btfs/btfs/fetch/picker"
	"github.com/btfs/btfs/internal/wait"
)

// waitState is what a test reads of the reads waiting on a torrent.
func waitState(t *testing.T, tor *Torrent) (waiting, urgent int) {
	t.Helper()
	s, err := tor.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s.Waiting, s.Urgent
}

// An interrupted, timed-out or closed read withdraws its wait: with no one
// else waiting, the piece is no longer Urgent, and drops to what is left
// wanting it (here the open reader's readahead); a wait shared with another read stays
// until that one ends too.
func TestEndedReadWithdrawsItsWait(t *testing.T) {
	mi, _ := makeContent(t, 1<<20, 64<<10)
	lonely := startNode(t, mi, t.TempDir(), false, func(c *Config) { c.WantAll = false })
	tor := lonely.t
	a := tor.NewReader(0, mi.Info.Length, 0)
	defer a.Close()
	b := tor.NewReader(0, mi.Info.Length, 0)
	defer b.Close()

	// Two reads of piece 0, one interrupted (its context cancelled).
	ctxA, interrupt := context.WithCancel(context.Background())
	errA := make(chan error, 1)
	go func() { _, err := a.ReadAt(ctxA, make([]byte, 10), 0); errA <- err }()
	errB := make(chan error, 1)
	go func() { _, err := b.ReadAt(context.Background(), make([]byte, 10), 0); errB <- err }()
	wait.For(t, "two reads waiting on piece 0", 10*time.Second, func() bool {
		w, u := waitState(t, tor)
		return w == 2 && u == 1
	})
	interrupt()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Fatalf("the interrupted read: %v", err)
	}
	if w, u := waitState(t, tor); w != 1 || u != 1 {
		t.Fatalf("after one of two reads was interrupted: %d waiting, %d urgent; want 1 and 1", w, u)
	}
	b.Close()
	if err := <-errB; !errors.Is(err, ErrReaderClosed) {
		t.Fatalf("the read of the closed reader: %v", err)
	}
	if w, u := waitState(t, tor); w != 0 || u != 0 {
		t.Fatalf("with both reads ended: %d waiting, %d urgent; want none", w, u)
	}
	var pr picker.Priority
	tor.do(context.Background(), func() { pr = tor.picker.Priority(0) })
	if pr != picker.Readahead {
		t.Fatalf("piece 0 is at priority %v after its reads ended; want Readahead (a's window starts in it)", pr)
	}

	// A read timeout withdraws too.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := a.ReadAt(ctx, make([]byte, 10), 100<<10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a read that timed out: %v", err)
	}
	if w, u := waitState(t, tor); w != 0 || u != 0 {
		t.Fatalf("after a read timed out: %d waiting, %d urgent; want none", w, u)
	}
}

// A read whose context ends while its wait is being registered leaves
// nothing behind either: the loop may take the registration after the
// caller gave up on it. Nor does a read whose context had ended before it
// began unbalance the reader's claims.
func TestReadCancelledWhileRegisteringLeavesNoWait(t *testing.T) {
	mi, _ := makeContent(t, 1<<20, 64<<10)
	lonely := startNode(t, mi, t.TempDir(), false, func(c *Config) { c.WantAll = false })
	r := lonely.t.NewReader(0, mi.Info.Length, 0)
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 200 {
		if _, err := r.ReadAt(ctx, make([]byte, 10), int64(i%16)<<16); !errors.Is(err, context.Canceled) {
			t.Fatalf("a cancelled read: %v", err)
		}
	}
	if w, u := waitState(t, lonely.t); w != 0 || u != 0 {
		t.Fatalf("after 200 cancelled reads: %d waiting, %d urgent; want none", w, u)
	}
	// Their readahead and head/tail claims were kept in step with the
	// reader too: closing it leaves none.
	r.Close()
	var ahead, headTail, readers int
	lonely.t.do(context.Background(), func() {
		ahead, headTail, readers = len(lonely.t.demand.ahead), len(lonely.t.demand.headTail), len(lonely.t.demand.readers)
	})
	if ahead != 0 || headTail != 0 || readers != 0 {
		t.Fatalf("after the reader closed, %d pieces keep a readahead claim, %d a head/tail one, %d readers a record", ahead, headTail, readers)
	}
}
