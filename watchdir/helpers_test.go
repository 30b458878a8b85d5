package watchdir

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/bencode"
	"github.com/btfs/btfs/internal/leakcheck"
	"github.com/btfs/btfs/metainfo"
)

func TestMain(m *testing.M) {
	os.Exit(leakcheck.Main(m, "btfs/btfs/watchdir.", "fsnotify/fsnotify."))
}

// eventTimeout bounds every wait for an event; the watcher answers in well
// under a second, so hitting it means the event never comes.
const eventTimeout = 5 * time.Second

// fast are options that keep tests quick while still exercising settling.
var fast = Options{Settle: 100 * time.Millisecond, ErrorGrace: 400 * time.Millisecond}

// torrent returns a small single-file .torrent whose info-hash depends on
// name, and that info-hash.
func torrent(t testing.TB, name string) ([]byte, metainfo.Hash) {
	t.Helper()
	content := []byte("content of " + name)
	sum := sha1.Sum(content)
	info := map[string]any{
		"length":       int64(len(content)),
		"name":         name,
		"piece length": int64(16 << 10),
		"pieces":       sum[:],
	}
	data, err := bencode.Marshal(map[string]any{"announce": "http://127.0.0.1:1/announce", "info": info})
	if err != nil {
		t.Fatal(err)
	}
	mi, err := metainfo.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return data, mi.InfoHash
}

// magnetLink returns a magnet link for a hash derived from name.
func magnetLink(name string) (string, metainfo.Hash) {
	h := metainfo.Hash(sha1.Sum([]byte(name)))
	return fmt.Sprintf("magnet:?xt=urn:btih:%s&dn=%s", h, name), h
}

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// watch is a running Watcher whose events a test reads.
type watch struct {
	t      *testing.T
	dir    string
	events chan Event
	done   chan error
	seq    int // barriers made
}

// start runs a watcher over dir until the test ends.
func start(t *testing.T, dir string, opts Options) *watch {
	t.Helper()
	w, err := New(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &watch{t: t, dir: dir, events: make(chan Event, 4096), done: make(chan error, 1)}
	go func() {
		r.done <- w.Run(ctx, func(e Event) {
			select {
			case r.events <- e:
			case <-ctx.Done():
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; err != nil && !errors.Is(err, ErrDirGone) {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

// next returns the next event.
func (r *watch) next(what string) Event {
	r.t.Helper()
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	select {
	case e := <-r.events:
		return e
	case err := <-r.done:
		r.t.Fatalf("waiting for %s: Run returned %v", what, err)
	case <-timer.C:
		r.t.Fatalf("timed out after %v waiting for %s", eventTimeout, what)
	}
	return Event{}
}

// expect reads the next event and checks its op and key (and, for an Add,
// its info-hash unless zero).
func (r *watch) expect(op Op, key string, hash metainfo.Hash) Event {
	r.t.Helper()
	e := r.next(fmt.Sprintf("%s %s", op, key))
	if e.Op != op || e.Key != key || (!hash.IsZero() && e.InfoHash() != hash) {
		r.t.Fatalf("got %v, want %s %s %s", e, op, key, hash)
	}
	return e
}

// barrier returns every event reported before now. It writes a malformed
// file, whose error comes only after its own grace period, and waits for it:
// every earlier change (a file settling, or an error put off) is due before
// it, so it has been reported by then.
func (r *watch) barrier() []Event {
	r.t.Helper()
	r.seq++
	name := fmt.Sprintf("~barrier%d.torrent", r.seq)
	path := filepath.Join(r.dir, name)
	write(r.t, path, []byte("not a torrent"))
	var before []Event
	for {
		e := r.next("the barrier " + name)
		if e.Op == Error && e.Key == name {
			if err := os.Remove(path); err != nil {
				r.t.Fatal(err)
			}
			return before
		}
		before = append(before, e)
	}
}

// quiet fails the test if any event came before now.
func (r *watch) quiet(when string) {
	r.t.Helper()
	if extra := r.barrier(); len(extra) > 0 {
		r.t.Fatalf("%s: unexpected events %v", when, extra)
	}
}

func contains(err error, parts ...string) bool {
	if err == nil {
		return false
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			return false
		}
	}
	return true
}
