package cache

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Badger writes its value log through a shared memory map and, when a
// file is full, syncs the whole of it (msync) before moving to the next,
// holding the file's lock: every read of a piece in that file waits
// meanwhile, 30-100 ms for a 64 MiB file on a streaming mount. The cache
// starts the write-back of what was committed as it goes, from a goroutine
// of its own, so that little is left for that sync to write.

// writebackEvery is how many committed bytes start a write-back: small
// enough that a file's sync finds a few MiB dirty at most, large enough
// that the syscalls cost nothing next to the copies.
const writebackEvery = 16 << 20

// noteCommitted counts n bytes committed and wakes the write-back
// goroutine every writebackEvery bytes.
func (c *Cache) noteCommitted(n int64) {
	if c.sinceWriteback.Add(n) < writebackEvery {
		return
	}
	c.sinceWriteback.Store(0)
	select {
	case c.writebackKick <- struct{}{}:
	default: // one is under way or due
	}
}

// writebackLoop starts the write-back of the newest value-log file's
// dirty pages when kicked; it stops at Close.
func (c *Cache) writebackLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.quit:
			return
		case <-c.writebackKick:
		}
		if err := c.startWriteback(); err != nil {
			c.log.Debug("cache: write-back", "err", err)
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
