package cache

import (
	"fmt"
	"path/filepath"
	"syscall"
	"time"

	"github.com/btfs/btfs/internal/bytesize"
)

// Room on disk (rule 7). Badger writes its value log (files mapped at twice
// ValueLogFileSize), its memtables' logs (.mem, mapped at twice MemTableSize),
// its tables (.sst, mapped at their size) and DISCARD (a 1 MiB map) by
// copying into memory maps of sparse files: ristretto's z.OpenMmapFile
// truncates a new file to the size it maps. A page of such a map gets its
// disk block when it is first touched (on tmpfs even a read of a hole
// allocates one), and when the disk has none left the kernel sends SIGBUS,
// which kills the process from whichever goroutine touched the page:
// badger's writer, its flusher, its compactors, or Open replaying a log.
// Badger never sees an error. So the cache keeps badger off a full disk:
//
//  1. A write goes through only if the directory stays under the bound with
//     it: du (measured, plus what was written since, plus writes in flight)
//     plus the piece plus aheadRoom, what badger may take besides (a
//     memtable flushed to a table, a value-log file GC copies into). When it
//     would not, the write collects garbage and evicts first, and is refused
//     with ErrNoRoom if that is not enough.
//  2. It also goes through only if the disk has that much free (statfs): a
//     disk other programs filled refuses writes with an error wrapping
//     syscall.ENOSPC, and what is stored is served all the same.
//  3. A reserve file, allocated with fallocate inside the bound, holds back
//     reserveSize for the writes badger makes on its own at Open and Close
//     (replaying and flushing memtables, the headers of new log files).
//     When the disk is full at Open or Close, the reserve is deleted first;
//     it is made again before the next write, which is refused while the
//     disk has no room for it.
//  4. Open first cuts off the never-written sparse tails of the .mem and
//     .vlog files a crash left (trimSparseTails), which badger would read
//     through its map to find where the log ends.
//  5. Before each commit and each GC round, the blocks badger will write
//     the values and keys into are allocated (prealloc.go), so that another
//     program filling the disk after the checks of 2 meets an error in
//     fallocate instead of badger meeting a SIGBUS.
//
// What is left: a GC round that moves on to a new value-log file, and the
// tables badger's flushes and compactions write in the background (keys
// and value pointers, a few MiB for a full 10 GiB cache), rely on the free
// space of 2 and 3 alone, so a program filling the disk at that moment can
// still take the block they need.

const (
	// reserveName is the reserve file in the cache directory.
	reserveName = "btfs-reserve"
	// reserveSlack is what the reserve holds besides a memtable's flush:
	// the first pages of a new value-log file, memtable log, DISCARD and
	// MANIFEST record that Open writes.
	reserveSlack = 256 << 10
	// pageSlack covers a write's partly filled pages: the value log's
	// zeroed next-entry header and the memtable log's entries.
	pageSlack = 16 << 10
	// duEvery: du of the directory (a stat per file: ~0.2 ms for a full
	// 10 GiB cache) is measured at most this often on the write path;
	// between measurements the bytes written are added to the last one.
	duEvery = 50 * time.Millisecond
	// roomRounds bounds the collect-and-evict rounds one write runs to
	// keep the directory under its bound before it gives up.
	roomRounds = 4
)

// reserveSize is the reserve file's size.
func (c *Cache) reserveSize() int64 { return c.memTableSize + reserveSlack }

// aheadRoom is what badger may write besides a piece, beyond what du shows:
// the table a full memtable is flushed to (its log is on disk already), and
// the value-log file GC copies live values into before it deletes the old
// one.
func (c *Cache) aheadRoom() int64 { return c.memTableSize + c.vlogFileSize }

// writeCost is what a piece of size bytes takes in the value log: its
// chunks, each padded and with its entry's header, key and CRC.
func (c *Cache) writeCost(size int64) int64 {
	n := c.numChunks(size)
	return size + int64(n)*(2*vlogAlign+vlogFixedLen+2*4+vlogKeyLen+vlogCRCLen) + pageSlack
}

// room is the write path's account of the disk. Guarded by Cache.roomMu,
// which is taken after every other lock and held across no badger call.
type room struct {
	du       int64     // the directory's size when last measured
	measured time.Time // when
	added    int64     // bytes committed since
	pending  int64     // cost of the writes between admit and done
	reserved bool      // the reserve file is in place
}

// duLocked is the directory's size as the write path counts it: measured
// at most every duEvery (now, when fresh), plus the writes since and in
// flight. roomMu is held.
func (c *Cache) duLocked(fresh bool) int64 {
	if fresh || time.Since(c.room.measured) > duEvery {
		c.room.du, c.room.measured, c.room.added = c.diskUsage(), time.Now(), 0
	}
	return c.room.du + c.room.added + c.room.pending
}

// admit lets a write of size bytes go to badger, or says why not: the bound
// (ErrNoRoom, after collecting and evicting what it can) or the disk (an
// error wrapping syscall.ENOSPC). A write admitted must call done.
func (c *Cache) admit(size int64) (cost int64, err error) {
	cost = c.writeCost(size)
	ahead := c.aheadRoom()
	for round := 0; ; round++ {
		c.roomMu.Lock()
		du := c.duLocked(round > 0)
		over := du + cost + ahead - c.maxSize
		if over <= 0 {
			err := c.checkFreeLocked(cost + ahead)
			if err == nil {
				c.room.pending += cost
			}
			c.roomMu.Unlock()
			return cost, err
		}
		c.roomMu.Unlock()
		if round == roomRounds {
			return 0, fmt.Errorf("%s would take the cache directory to %s: %w of %s; raise --cache-size",
				bytesize.Format(size), bytesize.Format(du+cost+ahead), ErrNoRoom, bytesize.Format(c.maxSize))
		}
		// Over: garbage first; from the second round on, evict what is
		// over too, so that GC has something to take.
		if round > 0 {
			c.evict(over)
		}
		if err := c.collectAt(gcPressureRatio); err != nil {
			c.log.Warn("cache: value-log GC", "err", err)
		}
	}
}

// done ends an admitted write: its cost is on disk now, or was never
// written.
func (c *Cache) done(cost int64, written bool) {
	c.roomMu.Lock()
	c.room.pending -= cost
	if written {
		c.room.added += cost
	}
	c.roomMu.Unlock()
}

// checkFreeLocked refuses a write of need bytes unless the disk has them
// free besides the other writes in flight, and puts the reserve file back
// first if Open or Close took it. roomMu is held.
func (c *Cache) checkFreeLocked(need int64) error {
	free, err := freeSpace(c.dir)
	if err != nil {
		return nil // no answer: let the write try
	}
	free -= c.room.pending
	if !c.room.reserved {
		need += c.reserveSize()
		if free >= need {
			if err := c.makeReserve(); err != nil {
				return fmt.Errorf("cache: %s: %w", filepath.Clean(c.dir), err)
			}
			c.room.reserved = true
			c.room.measured = time.Time{}
			return nil
		}
	}
	if free < need {
		return fmt.Errorf("cache: disk full: %s has %s free, a write needs %s; free some space or lower --cache-size: %w",
			filepath.Clean(c.dir), bytesize.Format(max(free, 0)), bytesize.Format(need), syscall.ENOSPC)
	}
	return nil
}

// checkFree refuses a write of size bytes (0: badger's own, such as a drop's
// memtable flush) unless the disk keeps aheadRoom free besides.
func (c *Cache) checkFree(size int64) error {
	c.roomMu.Lock()
	defer c.roomMu.Unlock()
	return c.checkFreeLocked(size + c.aheadRoom())
}

// lowOnDisk reports whether the disk has less than aheadRoom free: then GC
// only takes value-log files that are nearly all garbage (copying next to
// nothing), and drops, which flush a memtable, wait.
func (c *Cache) lowOnDisk() bool {
	free, err := freeSpace(c.dir)
	return err == nil && free < c.aheadRoom()
}
