package cache

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/wait"
)

// logRSS is how much of the value-log files in dir the process holds
// resident (smaps: the Rss of each of their mappings), in bytes.
func logRSS(t *testing.T, dir string) int64 {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	defer f.Close()
	var total int64
	inLog := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 6 && strings.Contains(fields[0], "-"):
			inLog = strings.HasSuffix(fields[5], ".vlog") && filepath.Dir(fields[5]) == abs
		case len(fields) == 3 && fields[0] == "Rss:" && inLog:
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			total += kb << 10
		}
	}
	return total
}

// Streaming pieces through the cache, written then read back, leaves only
// a few upkeep rounds' worth of the value log resident, and every byte read
// is exact, before and after a reopen.
func TestResidentLogPagesBounded(t *testing.T) {
	const pieces = 192 // 192 MiB
	dir := t.TempDir()
	c := open(t, dir, Options{MaxSize: 1 << 30})
	tt := newTorrent(61, 1<<20, pieces<<20)
	s := c.Torrent(tt.hash, tt.info)
	for i := range pieces {
		write(t, s, tt, i)
		if i >= 8 {
			checkPiece(t, s, tt, i-8) // a reader a little behind the writer
		}
	}
	const bound = 2 * releaseEvery
	var rss int64
	wait.For(t, "the value log's resident pages to be released", 10*time.Second, func() bool {
		rss = logRSS(t, dir)
		return rss <= bound
	})
	t.Logf("value log resident after streaming %d MiB: %.1f MiB", pieces, float64(rss)/(1<<20))
	for i := range pieces {
		checkPiece(t, s, tt, i)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir, Options{MaxSize: 1 << 30})
	s = c.Torrent(tt.hash, tt.info)
	for i := range pieces {
		checkPiece(t, s, tt, i)
	}
}

func TestParseLogMapping(t *testing.T) {
	dir := "/var/cache/btfs"
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{"7f0000000000-7f0004000000 rw-s 00000000 fd:01 123 /var/cache/btfs/000001.vlog", true},
		{"7f0000000000-7f0004000000 r--s 00000000 fd:01 123 /var/cache/btfs/000002.vlog", true},
		{"7f0000000000-7f0004000000 rw-p 00000000 fd:01 123 /var/cache/btfs/000001.vlog", false}, // private
		{"7f0000000000-7f0004000000 rw-s 00000000 fd:01 123 /var/cache/btfs/00001.mem", false},
		{"7f0000000000-7f0004000000 rw-s 00000000 fd:01 123 /var/cache/other/000001.vlog", false},
		{"7f0000000000-7f0004000000 rw-s 00000000 fd:01 123 /var/cache/btfs/sub/000001.vlog", false},
		{"7f0000000000-7f0004000000 rw-p 00000000 00:00 0", false}, // anonymous
		{"zz-7f0004000000 rw-s 00000000 fd:01 123 /var/cache/btfs/000001.vlog", false},
		{"7f0004000000-7f0000000000 rw-s 00000000 fd:01 123 /var/cache/btfs/000001.vlog", false},
		{"", false},
	} {
		r, ok := parseLogMapping(tc.line, dir)
		if ok != tc.ok || (ok && (r.start != 0x7f0000000000 || r.end != 0x7f0004000000)) {
			t.Errorf("parseLogMapping(%q) = %x, %v; want ok %v", tc.line, r, ok, tc.ok)
		}
	}
}
