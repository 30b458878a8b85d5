package session

import (
	"context"
	"errors"

	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/fs"
)

// errRemoved fails the reads of a torrent taken out of the session.
var errRemoved = errors.New("session: the torrent was removed")

// Source is what a mount reads the torrent through: each Open activates a
// parked torrent at once (no timer: the engine starts dialing the peers it
// knew and announces while Open returns), and the engine stays while the
// reader is open.
func (t *Torrent) Source(readahead int64) fs.Source { return source{t: t, readahead: readahead} }

type source struct {
	t         *Torrent
	readahead int64
}

func (s source) Open(off, length int64) fs.Reader {
	e := s.t.acquire()
	if e == nil {
		return failedReader{}
	}
	return &reader{t: s.t, r: e.NewReader(off, length, s.readahead)}
}

// acquire activates the torrent if need be and counts one more reader;
// nil if the torrent is stopped (or has no info yet).
func (t *Torrent) acquire() *fetch.Torrent {
	t.Activate()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.startLocked() // parked again between Activate and here: no room-making this time
	if t.engine == nil {
		return nil
	}
	t.readers++
	t.touch()
	return t.engine
}

// release counts a reader closed; the last one of a removed torrent stops
// its engine.
func (t *Torrent) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.readers--
	t.touch()
	if t.readers == 0 && t.stopped && t.engine != nil {
		t.stopEngine()
		t.engine, t.stopEngine = nil, nil
	}
}

// reader is one open file's fetch.Reader, which keeps the torrent active.
type reader struct {
	t *Torrent
	r *fetch.Reader
}

func (r *reader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	r.t.touch()
	return r.r.ReadAt(ctx, p, off)
}

// Readahead reports the reader's state for OpenFiles.
func (r *reader) Readahead() (pos, ahead int64) { return r.r.Readahead() }

func (r *reader) Close() error {
	err := r.r.Close()
	r.t.release()
	return err
}

type failedReader struct{}

func (failedReader) ReadAt(context.Context, []byte, int64) (int, error) { return 0, errRemoved }
func (failedReader) Close() error                                       { return nil }

var (
	_ fs.ReadaheadReporter = (*reader)(nil)
	_ fs.Source            = source{}
)
