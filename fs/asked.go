package fs

import (
	"sync"
	"time"
)

// A read's timeout counts from the first time its range was asked for on
// the handle, not from each READ: the kernel asks again for what a READ
// left unanswered (a failed readahead is read again page by page, in the
// same read(2); an interrupted page fault is taken again as soon as the
// signal handler returns), and a reader that takes signals (the Go runtime
// preempts with one every 10 ms) sees each READ interrupted and sent again.
// Timed from each READ, such a read would never time out, and an ordinary
// first read would take the timeout twice (the readahead, then the retry).
const (
	// retryWindow is how long after a READ ended unanswered (interrupted,
	// timed out, failed) a READ of an overlapping range continues its
	// clock instead of starting anew. The kernel's retries and those of Go
	// and Python after EINTR come within microseconds; a program that asks
	// again after longer gets a whole timeout again.
	retryWindow = time.Second
	// maxAsks bounds the ranges a handle remembers: its READs in flight
	// (the kernel sends a few at once) and those that just ended unanswered.
	maxAsks = 64
)

// asks is what one open handle remembers of the ranges asked for and not
// yet served.
type asks struct {
	mu   sync.Mutex // guards list
	list []*ask     // oldest first
}

// ask is a READ's range [off, end).
type ask struct {
	off, end int64
	first    time.Time // when the range was first asked for, retries included
	ended    time.Time // when its READ ended unanswered; zero while in flight
}

// begin records a READ of [off, end) at now. Its clock starts at the
// earliest first time of the ranges it overlaps that are still pending: in
// flight, or ended unanswered less than retryWindow ago.
func (a *asks) begin(off, end int64, now time.Time) *ask {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := &ask{off: off, end: end, first: now}
	kept := a.list[:0]
	for _, o := range a.list {
		if !o.ended.IsZero() && now.Sub(o.ended) >= retryWindow {
			continue // given up on: a later READ starts anew
		}
		if o.off < end && off < o.end {
			if o.first.Before(k.first) {
				k.first = o.first
			}
			if !o.ended.IsZero() && off <= o.off && o.end <= end {
				continue // this READ carries its clock on
			}
		}
		kept = append(kept, o)
	}
	if len(kept) >= maxAsks {
		kept = append(kept[:0], kept[len(kept)-maxAsks+1:]...)
	}
	clear(a.list[len(kept):])
	a.list = append(kept, k)
	return k
}

// done records how k's READ ended: a range served is forgotten, with the
// unanswered ones it covers; one left unanswered is kept for retryWindow,
// for the kernel's or the reader's retry to continue its clock.
func (a *asks) done(k *ask, served bool, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !served {
		k.ended = now
		return
	}
	kept := a.list[:0]
	for _, o := range a.list {
		if o == k || (!o.ended.IsZero() && k.off <= o.off && o.end <= k.end) {
			continue
		}
		kept = append(kept, o)
	}
	clear(a.list[len(kept):])
	a.list = kept
}
