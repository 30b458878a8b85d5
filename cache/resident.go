package cache

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Badger maps its value-log files into memory (MAP_SHARED) and writes and
// reads pieces through those maps. Every page touched stays in the
// process's page tables until the kernel needs the memory: streaming 1 GiB
// through a mount showed 1.1 GiB resident (RssFile), what people read as
// the mount's memory in top. releaseResident drops the process's mappings
// of those pages with madvise(MADV_DONTNEED), which, for a shared file
// mapping, only unmaps: the pages stay in the page cache, dirty ones are
// written back as usual, and the next touch maps them again (a minor
// fault). The process then holds a few upkeep rounds' worth of them.
//
// Only value-log maps are released, with writeMu held exclusively: badger
// unmaps a value-log file when it moves to the next (inside a commit, which
// holds writeMu shared) and when GC deletes one (under writeMu too), so no
// range read from /proc/self/maps can be unmapped, and its addresses
// reused by another mapping, before the madvise. (An iterator open during
// GC defers the deletion to its close; the cache's iterators run at Open
// only, before the upkeep goroutine starts.)

// releaseResident drops the process's mappings of the value-log pages.
func (c *Cache) releaseResident() error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	ranges, err := mappedLogs(c.dir)
	if err != nil {
		return err
	}
	for _, r := range ranges {
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, r.start, r.end-r.start, unix.MADV_DONTNEED); e != 0 {
			return fmt.Errorf("madvise: %w", e)
		}
	}
	return nil
}

// addrRange is one mapping's addresses [start, end).
type addrRange struct{ start, end uintptr }

// mappedLogs lists the process's mappings of value-log files in dir.
func mappedLogs(dir string) ([]addrRange, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []addrRange
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if r, ok := parseLogMapping(sc.Text(), abs); ok {
			out = append(out, r)
		}
	}
	return out, sc.Err()
}

// parseLogMapping reads one line of /proc/self/maps ("start-end perms
// offset dev inode path") and reports whether it maps a value-log file of
// dir, shared.
func parseLogMapping(line, dir string) (addrRange, bool) {
	fields := strings.Fields(line)
	if len(fields) < 6 || !strings.HasSuffix(fields[5], ".vlog") || filepath.Dir(fields[5]) != dir {
		return addrRange{}, false
	}
	if len(fields[1]) < 4 || fields[1][3] != 's' { // only shared maps: private pages would be lost
		return addrRange{}, false
	}
	lo, hi, ok := strings.Cut(fields[0], "-")
	if !ok {
		return addrRange{}, false
	}
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || end <= start {
		return addrRange{}, false
	}
	return addrRange{uintptr(start), uintptr(end)}, true
}
