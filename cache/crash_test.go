package cache

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// vlogFiles lists the value-log files of a cache directory.
func vlogFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.vlog"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no value-log files in %s: %v", dir, err)
	}
	return files
}

// damage finds where the bytes of tt's piece start at byte at of it in the
// value log, and applies how to them there.
func damage(t *testing.T, dir string, tt *torrent, piece, at int, how func(f *os.File, off int64)) {
	t.Helper()
	needle := tt.piece(piece)[at : at+64]
	for _, path := range vlogFiles(t, dir) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(data, needle); i >= 0 {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			how(f, int64(i))
			f.Close()
			return
		}
	}
	t.Fatalf("bytes of piece %d not found in the value log", piece)
}

func flipByte(f *os.File, off int64) {
	b := make([]byte, 1)
	f.ReadAt(b, off+17)
	b[0] ^= 0x40
	f.WriteAt(b, off+17)
}

func zeroPage(f *os.File, off int64) { f.WriteAt(make([]byte, 4096), off) }

func TestCorruptValueDetected(t *testing.T) {
	const piece = 600 << 10 // three chunks, the last one short
	tests := []struct {
		name string
		at   int // where in the piece the damage goes
		how  func(*os.File, int64)
	}{
		{"flipped byte, first chunk", 1000, flipByte},
		{"flipped byte, short last chunk", 550 << 10, flipByte},
		{"zeroed page, middle chunk", 300 << 10, zeroPage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tt := newTorrent(50, piece, 12*piece)
			c := open(t, dir, Options{MaxSize: 64 << 20})
			write(t, c.Torrent(tt.hash, tt.info), tt, pieceList(12)...)
			c.Close()
			damage(t, dir, tt, 3, tc.at, tc.how)
			damage(t, dir, tt, 7, tc.at, tc.how)

			c = open(t, dir, Options{MaxSize: 64 << 20})
			s := c.Torrent(tt.hash, tt.info)
			if n := s.Have().Count(); n != 12 {
				t.Fatalf("Have lists %d pieces; the keys are intact, want 12", n)
			}
			for i := range 12 {
				// Read only a few bytes away from the damage: the first read
				// checks the whole piece all the same.
				got := make([]byte, 100)
				err := s.ReadAt(got, i, 0)
				if i == 3 || i == 7 {
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("damaged piece %d: %v", i, err)
					}
					continue
				}
				if err != nil || !bytes.Equal(got, tt.piece(i)[:100]) {
					t.Fatalf("intact piece %d: %v", i, err)
				}
			}
			if ev := s.TakeEvicted(); !slices.Equal(ev, []int{3, 7}) {
				t.Fatalf("evicted %v, want [3 7]", ev)
			}
			if h := s.Have(); h.Has(3) || h.Has(7) || h.Count() != 10 {
				t.Fatalf("Have after the damage was found: %d pieces", h.Count())
			}
			if err := s.ReadAt(make([]byte, 1), 3, 0); !isNotStored(err) {
				t.Fatalf("second read of a dropped piece: %v", err)
			}
			write(t, s, tt, 3, 7) // fetched again
			checkPiece(t, s, tt, 3)
			checkPiece(t, s, tt, 7)
		})
	}
}

// With VerifyReads, damage done after a piece's first read is caught too.
func TestVerifyReadsCatchesLaterDamage(t *testing.T) {
	dir := t.TempDir()
	tt := newTorrent(51, 256<<10, 4*(256<<10))
	c := open(t, dir, Options{MaxSize: 64 << 20, VerifyReads: true})
	s := c.Torrent(tt.hash, tt.info)
	write(t, s, tt, 0, 1, 2, 3)
	checkPiece(t, s, tt, 2)
	damage(t, dir, tt, 2, 5000, flipByte) // through the page cache the mapping shares
	if err := s.ReadAt(make([]byte, 16<<10), 2, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read after damage: %v", err)
	}
	checkPiece(t, s, tt, 1)
}

// helperEnv makes the test binary a writer that TestKill9MidWrite kills.
const helperEnv = "BTFS_CACHE_TEST_WRITER"

// TestHelperWriter is not a test: run by TestKill9MidWrite in a child
// process, it writes pieces into the cache in BTFS_CACHE_TEST_WRITER until
// killed, with a bound small enough that evictions, drops and value-log GC
// run all the time.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process for TestKill9MidWrite")
	}
	c, err := Open(dir, Options{MaxSize: MinMaxSize})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	tt := newTorrent(60, 512<<10, 64*(512<<10))
	s := c.Torrent(tt.hash, tt.info)
	data := make([][][]byte, 64)
	for i := range data {
		data[i] = blocks(tt.piece(i))
	}
	deadline := time.Now().Add(time.Minute) // never outlive a broken parent for long
	for n := 0; time.Now().Before(deadline); n++ {
		if err := s.WritePiece(n%64, data[n%64]); err != nil {
			fmt.Println("write:", err)
			os.Exit(3)
		}
		if n == 8 {
			fmt.Println("writing")
		}
	}
	os.Exit(4)
}

func TestKill9MidWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	tt := newTorrent(60, 512<<10, 64*(512<<10))
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for round := range 10 {
		after := time.Duration(rng.Int64N(int64(300 * time.Millisecond)))
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if line != "writing\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: writer says %q", round, line)
		}
		time.Sleep(after)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: writer ended by itself: %v", round, err)
		}

		c := open(t, dir, Options{MaxSize: MinMaxSize})
		s := c.Torrent(tt.hash, tt.info)
		have := s.Have()
		good, bad := 0, 0
		for i := range 64 {
			if !have.Has(i) {
				continue
			}
			got := make([]byte, 512<<10)
			switch err := s.ReadAt(got, i, 0); {
			case err == nil:
				if !bytes.Equal(got, tt.piece(i)) {
					t.Fatalf("round %d: piece %d returned with wrong bytes", round, i)
				}
				good++
			case errors.Is(err, ErrCorrupt):
				bad++
			default:
				t.Fatalf("round %d: piece %d: %v", round, i, err)
			}
		}
		t.Logf("round %d (killed %v in): %d pieces read back whole, %d dropped as corrupt, du %s",
			round, after, good, bad, strconv.FormatInt(du(t, c)>>10, 10)+" KiB")
		if good == 0 {
			t.Fatalf("round %d: nothing survived", round)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory for the test.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

func TestDiskFull(t *testing.T) {
	dir := mountTmpfs(t, 64<<20)
	// A bound far above what the disk holds: the disk fills first. (It
	// keeps 16 MiB free for badger: two 4 MiB memtables, an 8 MiB value-log
	// file.)
	c := open(t, filepath.Join(dir, "cache"), Options{MaxSize: 256 << 20})
	tt := newTorrent(70, 1<<20, 128<<20)
	s := c.Torrent(tt.hash, tt.info)
	var full error
	stored := 0
	for i := range 128 {
		if full = s.WritePiece(i, blocks(tt.piece(i))); full != nil {
			break
		}
		stored++
	}
	if !errors.Is(full, syscall.ENOSPC) {
		t.Fatalf("after %d pieces: %v, want an error wrapping ENOSPC", stored, full)
	}
	t.Logf("%d MiB stored on a 64 MiB disk; then: %v", stored, full)
	if stored < 32 {
		t.Fatalf("only %d pieces stored before the disk was called full", stored)
	}
	// What is stored stays readable, and the cache stays usable.
	for i := range stored {
		checkPiece(t, s, tt, i)
	}
	if h := s.Have(); h.Count() != stored || h.Has(stored) {
		t.Fatalf("Have lists %d pieces after a refused write, want %d", h.Count(), stored)
	}
	// Freeing the cache's own space lets writes go on.
	if err := c.Remove(tt.hash); err != nil {
		t.Fatal(err)
	}
	if err := c.Compact(); err != nil {
		t.Fatal(err)
	}
	write(t, s, tt, stored)
	checkPiece(t, s, tt, stored)
}
