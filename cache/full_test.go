package cache

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The full-disk tests run the cache in a child process (the test binary
// again, with fullChildEnv set): before the cache kept badger's memory-mapped
// writes off a full disk, a full disk was a SIGBUS, which kills the process
// that takes it, so the parent could only watch the child die.

// fullChildEnv makes the test binary a child of the full-disk tests:
// "mode dir bound seconds".
const fullChildEnv = "BTFS_CACHE_FULL_CHILD"

const (
	fullDisk  = 20 << 20 // the tmpfs the cache lives on
	fullBound = 16 << 20 // the --cache-size of a reported crash
	// fullSlack is what du of the cache directory may exceed the bound by:
	// badger's files that no write can avoid (LOCK, KEYREGISTRY, MANIFEST,
	// DISCARD's first page, the reserve file's rounding).
	fullSlack = 256 << 10
	fullPiece = 512 << 10
)

// fullTorrents are what the child writes: two torrents of 48 MiB, three
// times the bound, so that eviction runs all the time.
func fullTorrents() []*torrent {
	return []*torrent{newTorrent(80, fullPiece, 48<<20), newTorrent(81, fullPiece, 48<<20)}
}

// TestHelperFullChild is not a test: it is the child process of the
// full-disk tests. Mode "fill" writes pieces from two goroutines (as the
// engine's verifiers do) and reads stored ones from a third until the time
// is up, and prints what it saw; "check" opens the cache, reads every stored
// piece back and writes one more.
func TestHelperFullChild(t *testing.T) {
	args := strings.Fields(os.Getenv(fullChildEnv))
	if len(args) != 4 {
		t.Skip("child process of the full-disk tests")
	}
	mode, dir := args[0], args[1]
	bound, _ := strconv.ParseInt(args[2], 10, 64)
	secs, _ := strconv.ParseFloat(args[3], 64)
	c, err := Open(dir, Options{MaxSize: bound})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	tts := fullTorrents()
	stores := []*TorrentStore{c.Torrent(tts[0].hash, tts[0].info), c.Torrent(tts[1].hash, tts[1].info)}
	fmt.Println("opened")
	switch mode {
	case "fill":
		fullFill(c, tts, stores, time.Duration(secs*float64(time.Second)))
	case "check":
		fullCheck(tts, stores)
	}
	if err := c.Close(); err != nil {
		fmt.Println("close:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// fullMinWrites is how many pieces "fill" writes at least (three times the
// disk), however long a loaded machine takes; fullMaxFill bounds the wait.
const (
	fullMinWrites = 3 * fullDisk / fullPiece
	fullMaxFill   = time.Minute
)

func fullFill(c *Cache, tts []*torrent, stores []*TorrentStore, d time.Duration) {
	start := time.Now()
	var writes, refused, reads atomic.Int64
	// going says whether to keep on: for d, and then until fullMinWrites
	// pieces are written (a busy machine writes slower, not less).
	going := func() bool {
		since := time.Since(start)
		return since < d || (writes.Load() < fullMinWrites && since < fullMaxFill)
	}
	var maxDu atomic.Int64
	var wg sync.WaitGroup
	fail := func(format string, a ...any) {
		fmt.Printf("FAIL "+format+"\n", a...)
		os.Exit(5)
	}
	for w := range 2 {
		wg.Go(func() {
			tt, s := tts[w], stores[w]
			n := tt.info.NumPieces()
			for i := 0; going(); i++ {
				err := s.WritePiece(i%n, blocks(tt.piece(i%n)))
				switch {
				case err == nil:
					writes.Add(1)
				case errors.Is(err, syscall.ENOSPC) || errors.Is(err, ErrNoRoom):
					if refused.Add(1) == 1 {
						fmt.Println("refused")
					}
				default:
					fail("write piece %d: %v", i%n, err)
				}
				if i == 8 && w == 0 {
					fmt.Println("writing")
				}
			}
		})
	}
	wg.Go(func() {
		got := make([]byte, fullPiece)
		for going() {
			for k, s := range stores {
				have := s.Have()
				for i := range have.Len() {
					if !have.Has(i) {
						continue
					}
					err := s.ReadAt(got, i, 0)
					if errors.Is(err, ErrNotStored) {
						continue // evicted since Have
					}
					if err != nil {
						fail("read piece %d: %v", i, err)
					}
					if !bytes.Equal(got, tts[k].piece(i)) {
						fail("piece %d: wrong bytes", i)
					}
					reads.Add(1)
				}
			}
		}
	})
	wg.Go(func() {
		for going() {
			if u := c.diskUsage(); u > maxDu.Load() {
				maxDu.Store(u)
				if os.Getenv("FULLDEBUG") != "" {
					out, _ := exec.Command("du", "-a", "-k", c.dir).Output()
					fmt.Fprintf(os.Stderr, "max %d:\n%s\n", u>>10, out)
				}
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()
	fmt.Printf("done writes=%d refused=%d reads=%d maxdu=%d\n", writes.Load(), refused.Load(), reads.Load(), maxDu.Load())
}

func fullCheck(tts []*torrent, stores []*TorrentStore) {
	got := make([]byte, fullPiece)
	good := 0
	for k, s := range stores {
		have := s.Have()
		for i := range have.Len() {
			if !have.Has(i) {
				continue
			}
			switch err := s.ReadAt(got, i, 0); {
			case err == nil && bytes.Equal(got, tts[k].piece(i)):
				good++
			case err == nil:
				fmt.Printf("FAIL piece %d: wrong bytes\n", i)
				os.Exit(5)
			case errors.Is(err, ErrCorrupt):
			default:
				fmt.Printf("FAIL read piece %d: %v\n", i, err)
				os.Exit(5)
			}
		}
	}
	// A piece not stored: the write reaches the disk checks.
	have, piece := stores[0].Have(), 0
	for have.Has(piece) {
		piece++
	}
	werr := stores[0].WritePiece(piece, blocks(tts[0].piece(piece)))
	if werr != nil && !errors.Is(werr, syscall.ENOSPC) {
		fmt.Printf("FAIL write piece %d: %v\n", piece, werr)
		os.Exit(5)
	}
	fmt.Printf("done good=%d refused=%d (%v)\n", good, btoi(werr != nil), werr)
}

// fullChild runs the child in mode and returns its output and how it ended.
type fullChild struct {
	cmd  *exec.Cmd
	out  *bufio.Reader
	errs bytes.Buffer
}

func startFullChild(t *testing.T, mode, dir string, bound int64, d time.Duration) *fullChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFullChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d %g", fullChildEnv, mode, dir, bound, d.Seconds()))
	ch := &fullChild{cmd: cmd}
	cmd.Stderr = &ch.errs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	ch.out = bufio.NewReader(out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return ch
}

// line is the child's next line of output ("" at its end).
func (ch *fullChild) line() string {
	s, _ := ch.out.ReadString('\n')
	return strings.TrimSpace(s)
}

// finish waits for the child's "done" line and its exit, failing the test
// if it crashed (a SIGBUS is "fatal error: fault") or reported a failure.
func (ch *fullChild) finish(t *testing.T) string {
	t.Helper()
	var done string
	for l := ch.line(); l != ""; l = ch.line() {
		if strings.HasPrefix(l, "done") {
			done = l
		} else if l != "opened" && l != "writing" && l != "refused" {
			t.Errorf("child: %s", l)
		}
	}
	err := ch.cmd.Wait()
	if err != nil || done == "" {
		stderr := ch.errs.String()
		if i := strings.Index(stderr, "\ngoroutine "); i > 0 {
			// The crash, and the first goroutine's stack: where it faulted.
			j := strings.Index(stderr[i+1:], "\n\n")
			stderr = stderr[:i+1+max(j, 0)]
		}
		t.Fatalf("child ended with %v, output %q:\n%s", err, done, stderr)
	}
	return done
}

func fullField(t *testing.T, line, name string) int64 {
	t.Helper()
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in %q", name, line)
	return 0
}

// TestFullDiskBoundHolds is a reported crash: a 16 MiB bound on a 20 MiB
// disk, written at speed. The process must not crash, du must stay under
// the bound, and stored pieces must read back.
func TestFullDiskBoundHolds(t *testing.T) {
	dir := filepath.Join(mountTmpfs(t, fullDisk), "cache")
	ch := startFullChild(t, "fill", dir, fullBound, 3*time.Second)
	done := ch.finish(t)
	t.Logf("child: %s", done)
	if n := fullField(t, done, "writes"); n < fullMinWrites {
		t.Fatalf("only %d pieces written", n)
	}
	if n := fullField(t, done, "maxdu"); n > fullBound+fullSlack {
		t.Fatalf("the cache directory reached %d KiB, over its bound %d KiB + %d KiB\n%s", n>>10, fullBound>>10, fullSlack>>10, lastListing(ch.errs.String()))
	}
	check := startFullChild(t, "check", dir, fullBound, 0)
	done = check.finish(t)
	t.Logf("reopened: %s", done)
	if fullField(t, done, "refused") != 0 {
		t.Fatal("a write with room on the disk was refused")
	}
}

// TestFullDiskKill9 fills the disk under a running cache (another program's
// file takes what the cache leaves free), kills the cache's process and
// opens the cache again, still on a full disk: it must open, serve what it
// holds and refuse writes with an error.
func TestFullDiskKill9(t *testing.T) {
	disk := mountTmpfs(t, fullDisk)
	dir := filepath.Join(disk, "cache")
	for round := range 3 {
		ch := startFullChild(t, "fill", dir, 64<<20, 30*time.Second) // a bound past the disk
		if l := ch.line(); l != "opened" {
			t.Fatalf("round %d: child says %q: %s", round, l, ch.errs.String())
		}
		hog := filepath.Join(disk, "hog")
		fillDisk(t, hog)
		// Kill it once it has run into the full disk: its files are as a
		// full disk leaves them.
		for l := ch.line(); l != "refused"; l = ch.line() {
			if l == "" {
				ch.cmd.Wait()
				t.Fatalf("round %d: child ended before the kill:\n%s", round, ch.errs.String())
			}
		}
		ch.cmd.Process.Signal(syscall.SIGKILL)
		err := ch.cmd.Wait()
		if ws, ok := ch.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended before the kill: %v\n%s", round, err, ch.errs.String())
		}
		fillDisk(t, hog)
		check := startFullChild(t, "check", dir, 64<<20, 0)
		done := check.finish(t)
		t.Logf("round %d: reopened on a full disk: %s", round, done)
		if fullField(t, done, "good") == 0 {
			t.Fatalf("round %d: nothing stored was read back", round)
		}
		if fullField(t, done, "refused") != 1 {
			t.Fatalf("round %d: a write on a full disk was not refused", round)
		}
		os.Remove(hog)
	}
}

// fillDisk grows the file at path until the disk is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// lastListing is the last listing of the cache directory a child made at a
// new maximum of its size (with FULLDEBUG set).
func lastListing(stderr string) string {
	if i := strings.LastIndex(stderr, "max "); i >= 0 {
		return stderr[i:]
	}
	return ""
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
