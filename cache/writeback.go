package cache

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Upkeep of badger's memory maps, from a goroutine of the cache's own,
// every upkeepEvery bytes committed or read:
//
//   - Write-back. Badger writes its value log through a shared memory map
//     and, when a file is full, syncs the whole of it (msync) before moving
//     to the next, holding the file's lock: every read of a piece in that
//     file waited meanwhile, 30-100 ms for a 64 MiB file on a streaming
//     mount. The cache starts the write-back of what was committed as it
//     goes, so that little is left for that sync.
//   - Resident pages (resident.go): the pages of the maps that writes and
//     reads touched are let go of, so that the process's resident memory
//     stays small while the data stays in the page cache.

// upkeepEvery is how many bytes committed or read start a round: small
// enough that a file's sync finds a few MiB dirty and the maps hold a few
// MiB resident, large enough that the syscalls cost nothing next to the
// copies.
const upkeepEvery = 16 << 20

// noteTouched counts n bytes committed (wrote) or read through badger's
// maps and wakes the upkeep goroutine every upkeepEvery bytes.
func (c *Cache) noteTouched(n int64, wrote bool) {
	if wrote {
		c.wroteSinceUpkeep.Store(true)
	}
	if c.sinceUpkeep.Add(n) < upkeepEvery {
		return
	}
	c.sinceUpkeep.Store(0)
	select {
	case c.upkeepKick <- struct{}{}:
	default: // one is under way or due
	}
}

// upkeepLoop runs a round of upkeep when kicked; it stops at Close.
func (c *Cache) upkeepLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.quit:
			return
		case <-c.upkeepKick:
		}
		if c.wroteSinceUpkeep.Swap(false) {
			if err := c.startWriteback(); err != nil {
				c.log.Debug("cache: write-back", "err", err)
			}
		}
		if err := c.releaseResident(); err != nil {
			c.log.Debug("cache: releasing mapped pages", "err", err)
		}
	}
}

// startWriteback asks the kernel to start writing the newest value-log
// file's dirty pages (SYNC_FILE_RANGE_WRITE: it does not wait for them).
func (c *Cache) startWriteback() error {
	fid := newestLog(c.dir, "%06d.vlog")
	if fid == 0 {
		return nil
	}
	f, err := os.Open(filepath.Join(c.dir, fmt.Sprintf("%06d.vlog", fid)))
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}
