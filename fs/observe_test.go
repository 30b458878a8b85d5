package fs

import (
	"github.com/btfs/btfs/internal/wait"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// readLog records what OnRead is told.
type readLog struct {
	mu    sync.Mutex
	n     []int
	errs  int
	total time.Duration
}

func (l *readLog) onRead(d time.Duration, n int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n = append(l.n, n)
	l.total += d
	if err != nil {
		l.errs++
	}
}

func (l *readLog) snapshot() (bytes, calls, errs int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.n {
		bytes += n
	}
	return bytes, len(l.n), l.errs
}

// OnRead sees every read with its size, and the failed ones with an error.
func TestOnRead(t *testing.T) {
	info, data := testTorrent(t)
	var log readLog
	dir := mount(t, info, &memSource{data: data}, Options{OnRead: log.onRead})
	got, err := os.ReadFile(filepath.Join(dir, "album", "01 intro.flac"))
	if err != nil || len(got) != 300000 {
		t.Fatalf("read: %d bytes, %v", len(got), err)
	}
	bytes, calls, errs := log.snapshot()
	if bytes != 300000 || calls == 0 || errs != 0 {
		t.Fatalf("OnRead saw %d bytes in %d calls, %d errors; want 300000 bytes, no errors", bytes, calls, errs)
	}

	blocked := &memSource{data: data, block: make(chan struct{})}
	var failed readLog
	dir = mount(t, info, blocked, Options{OnRead: failed.onRead, ReadTimeout: 50 * time.Millisecond})
	if _, err := os.ReadFile(filepath.Join(dir, "album", "deep", "a", "b", "c.txt")); err == nil {
		t.Fatal("a read that timed out succeeded")
	}
	if _, calls, errs := failed.snapshot(); calls == 0 || errs != calls {
		t.Fatalf("OnRead saw %d calls, %d errors; want every call failed", calls, errs)
	}
	if failed.total < 50*time.Millisecond {
		t.Fatalf("failed reads took %v in all, less than the read timeout", failed.total)
	}
}

// aheadSource's readers say how far they read ahead.
type aheadSource struct{ memSource }

func (s *aheadSource) Open(off, length int64) Reader {
	return &aheadReader{memReader{s: &s.memSource, data: s.data[off : off+length]}}
}

type aheadReader struct{ memReader }

func (r *aheadReader) Readahead() (int64, int64) { return 1234, 5678 }

// OpenFiles lists each open handle with where it reads, until it is closed.
func TestOpenFiles(t *testing.T) {
	info, data := testTorrent(t)
	dir, m := mountM(t, info, &memSource{data: data}, Options{})
	if files := m.OpenFiles(); len(files) != 0 {
		t.Fatalf("before any open: %v", files)
	}
	f, err := os.Open(filepath.Join(dir, "album", "01 intro.flac"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if _, err := f.ReadAt(buf, 200000); err != nil {
		t.Fatal(err)
	}
	files := m.OpenFiles()
	if len(files) != 1 || files[0].Path != "album/01 intro.flac" || files[0].Pos <= 200000 || files[0].Readahead != 0 {
		t.Fatalf("one file open, read at 200000: %+v", files)
	}
	f.Close()
	wait.For(t, "the handle to be released", 10*time.Second, func() bool { return len(m.OpenFiles()) == 0 })

	dir, m = mountM(t, info, &aheadSource{memSource{data: data}}, Options{})
	f, err = os.Open(filepath.Join(dir, "album", "cover", "front.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if files := m.OpenFiles(); len(files) != 1 || files[0] != (OpenFile{Key: singleKey, Path: "album/cover/front.jpg", Pos: 1234, Readahead: 5678}) {
		t.Fatalf("a reader that reports its readahead: %+v", files)
	}
}
