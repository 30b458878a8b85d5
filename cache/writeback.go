package cache

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Upkeep of badger's memory maps, from a goroutine of the cache's own:
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

// Upkeep intervals: write-back every writebackEvery bytes committed, small
// enough that a file's sync finds a few MiB dirty; release every
// releaseEvery bytes written or read, which bounds the value log's resident
// pages (a few times this) while a warm working set below it is faulted
// back in (from the page cache) rarely: dropping every 16 MiB cost 40% of
// the warm read rate of BenchmarkReadAt.
const (
	writebackEvery = 16 << 20
	releaseEvery   = 64 << 20
)

// noteTouched counts n bytes committed (wrote) or read through badger's
// maps and wakes the upkeep goroutine when a round is due.
func (c *Cache) noteTouched(n int64, wrote bool) {
	kick := false
	if wrote && c.sinceWriteback.Add(n) >= writebackEvery {
		c.sinceWriteback.Store(0)
		c.writebackDue.Store(true)
		kick = true
	}
	if c.sinceRelease.Add(n) >= releaseEvery {
		c.sinceRelease.Store(0)
		c.releaseDue.Store(true)
		kick = true
	}
	if kick {
		select {
		case c.upkeepKick <- struct{}{}:
		default: // one is under way or due
		}
	}
}

// upkeepLoop runs the rounds of upkeep that are due when kicked; it stops
// at Close.
func (c *Cache) upkeepLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.quit:
			return
		case <-c.upkeepKick:
		}
		if c.writebackDue.Swap(false) {
			if err := c.startWriteback(); err != nil {
				c.log.Debug("cache: write-back", "err", err)
			}
		}
		if c.releaseDue.Swap(false) {
			if err := c.releaseResident(); err != nil {
				c.log.Debug("cache: releasing mapped pages", "err", err)
			}
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
