package fetch

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/btfs/btfs/internal/bitfield"
)

// Readahead: a handle that reads sequentially gets the pieces ahead of it
// asked for before it needs them; the window starts small, doubles while
// reads stay sequential, and shrinks back on a seek, whose stale pieces are
// no longer asked for.
const (
	minReadahead = 1 << 20
	// DefaultMaxReadahead suits a high-bitrate video: 32 MiB is a few
	// seconds of a 4K stream, enough to ride out a slow peer.
	DefaultMaxReadahead = 32 << 20
	// seqSlack tolerates the kernel's slightly out-of-order reads when
	// deciding whether a handle reads sequentially.
	seqSlack = 1 << 20
)

// haveView is the loop's bitfield, shared read-only with readers so that a
// read of data we hold never waits for the loop.
type haveView struct {
	mu sync.RWMutex // guards bf; written by the loop only
	bf bitfield.Bitfield
}

func (h *haveView) has(i int) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.bf.Has(i)
}

func (h *haveView) set(i int, v bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if v {
		h.bf.Set(i)
	} else {
		h.bf.Clear(i)
	}
}

// Reader reads a byte range of the torrent (one file, for one open handle)
// with readahead. It is safe for one caller at a time per method, and Close
// may be called concurrently with a blocked ReadAt.
type Reader struct {
	t         *Torrent
	off, size int64 // the range in the torrent's byte space
	maxAhead  int64
	mu        sync.Mutex // guards the fields below
	next      int64      // where a sequential read would continue (file offset)
	window    int64
	ahead     pieceSpan // the readahead last registered with the loop (demand.go)
	claimed   bool      // the head and tail are registered (headtail.go)

	done      chan struct{} // closed by Close: blocked reads return
	closeOnce sync.Once
}

// ErrReaderClosed is returned by reads on a closed Reader, including reads
// that were waiting when it was closed.
var ErrReaderClosed = errors.New("fetch: reader closed")

// pieceSpan is the pieces [first, end).
type pieceSpan struct{ first, end int }

// NewReader returns a reader for the torrent bytes [off, off+size).
// maxReadahead 0 means DefaultMaxReadahead.
func (t *Torrent) NewReader(off, size, maxReadahead int64) *Reader {
	if maxReadahead <= 0 {
		maxReadahead = DefaultMaxReadahead
	}
	return &Reader{t: t, off: off, size: size, maxAhead: maxReadahead, window: minReadahead, done: make(chan struct{})}
}

// ReadAt reads len(p) bytes at file offset off (fewer at the end of the
// range), waiting for missing pieces, which are fetched first. Its whole
// demand (the pieces it lacks, the readahead it moves, the file's head and
// tail on a first read) goes to the loop in one trip, none if it has it
// all. When ctx ends the waits are withdrawn: the blocks already asked for
// still come, but a piece no one else waits for is no longer Urgent.
func (r *Reader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	select {
	case <-r.done:
		return 0, ErrReaderClosed
	default:
	}
	if off >= r.size {
		return 0, nil
	}
	p = p[:min(int64(len(p)), r.size-off)]
	t := r.t
	abs := r.off + off
	first, end := t.info.PieceRange(abs, int64(len(p)))
	waits := r.register(ctx, first, end, off, int64(len(p)))
	n := 0
	for i := first; i < end; i++ {
		pieceStart := t.info.PieceOffset(i)
		from := max(abs, pieceStart)
		to := min(abs+int64(len(p)), pieceStart+t.info.PieceSize(i))
		if err := r.readPiece(ctx, p[from-abs:to-abs], i, from-pieceStart, waits[i-first]); err != nil {
			t.withdraw(waits[i-first+1:]...)
			return n, err
		}
		n += int(to - from)
	}
	return n, nil
}

// register sends the loop a read's demand, pieces [first, end) at file
// offset off for n bytes, and returns its waits, one per piece (nil: no
// wait). The claims are bookkeeping that must match what the reader
// records whatever ctx says: an interrupted read still registers them (a
// moment on the loop), and withdraws its waits when it gives up.
func (r *Reader) register(ctx context.Context, first, end int, off, n int64) []*pieceWait {
	t := r.t
	waits := make([]*pieceWait, end-first)
	var missing []int
	for i := first; i < end; i++ {
		if t.have.has(i) || t.landing.has(i) || t.held.has(i) {
			t.counters.hits.Add(1)
		} else {
			missing = append(missing, i)
		}
	}
	r.mu.Lock()
	want := r.nextWindow(off, n)
	moved := want != r.ahead
	claim := !r.claimed
	r.mu.Unlock()
	if len(missing) == 0 && !moved && !claim {
		return waits // most reads of a stream: no trip to the loop
	}
	var headTail []int
	if claim {
		headTail = t.headTailPieces(r.off, r.size)
	}
	t.do(context.WithoutCancel(ctx), func() {
		select {
		case <-r.done:
			return // closed: Close has released, or will release, its demand
		default:
		}
		if claim {
			t.claimHeadTail(r, headTail)
		}
		if moved {
			t.moveReadahead(r, want)
		}
		for _, i := range missing {
			waits[i-first] = t.waitFor(r, i)
		}
		t.demand.of(r).pos = first
		t.fillMore()
		t.requestAll()
		r.mu.Lock()
		r.ahead, r.claimed = want, true
		r.mu.Unlock()
	})
	return waits
}

// nextWindow updates the readahead after a read of n bytes at off and returns
// the pieces it wants: the window doubles while reads are sequential and
// starts over on a seek. r.mu is held.
func (r *Reader) nextWindow(off, n int64) pieceSpan {
	seq := off >= r.next-seqSlack && off <= r.next+seqSlack
	if seq {
		r.window = min(r.window*2, r.maxAhead)
	} else {
		r.window = minReadahead
	}
	r.next = off + n
	start := r.off + off + n
	var want pieceSpan
	if size := min(r.window, r.off+r.size-start); size > 0 {
		want.first, want.end = r.t.info.PieceRange(start, size)
	}
	return want
}

// maxRefetches bounds how often one read fetches a piece again after the
// storage dropped it between its arrival and the read (a cache evicting
// under pressure, or finding the piece damaged on disk).
const maxRefetches = 3

// readPiece reads seg from piece i at off, once w (if any) has ended.
func (r *Reader) readPiece(ctx context.Context, seg []byte, i int, off int64, w *pieceWait) error {
	t := r.t
	for attempt := 0; ; attempt++ {
		if w != nil {
			if err := r.await(ctx, i, w); err != nil {
				return err
			}
		}
		if t.readMemory(seg, i, off) {
			return nil
		}
		err := t.cfg.Storage.ReadAt(seg, i, off)
		if err == nil {
			return nil
		}
		if attempt == maxRefetches || !t.dropped(ctx, i) {
			return fmt.Errorf("read piece %d: %w", i, err)
		}
		t.log.Debug("piece dropped by the storage before it was read; fetching it again", "piece", i, "err", err)
		w = nil
		t.do(context.WithoutCancel(ctx), func() {
			select {
			case <-r.done:
			default:
				if w = t.waitFor(r, i); w != nil {
					t.requestAll()
				}
			}
		})
	}
}

// await returns once w has ended, or ctx has, or the reader is closed;
// a read that gives up withdraws its wait.
func (r *Reader) await(ctx context.Context, i int, w *pieceWait) error {
	select {
	case <-w.done:
		return nil
	case <-r.done:
		if r.t.withdraw(w) {
			return nil
		}
		return ErrReaderClosed
	case <-ctx.Done():
		if r.t.withdraw(w) {
			return nil
		}
		return fmt.Errorf("waiting for piece %d (%s): %w", i, r.t.whyMissing(i), ctx.Err())
	}
}

// Close drops the reader's demand and ends its blocked reads.
func (r *Reader) Close() error {
	r.closeOnce.Do(func() { close(r.done) })
	r.t.do(context.Background(), func() {
		r.t.demand.release(r, r.t.lower)
		r.t.stopFill(r)
	})
	r.mu.Lock()
	r.ahead = pieceSpan{}
	r.mu.Unlock()
	return nil
}
