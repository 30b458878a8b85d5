package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Preallocation (room.go, rule 5): before a commit, the disk blocks that
// badger's writer will touch through its maps are allocated with
// fallocate, so that the commit cannot meet a full disk half-way (a
// SIGBUS) even if another program fills the disk after the free-space
// check. Badger writes a commit's values at the end of the newest value-log
// file and its keys at the end of the newest memtable log, and opens a new
// memtable log (O_CREATE without O_EXCL, truncated up only when empty) when
// the current one is full; so the cache allocates past the end of each of
// the two, and makes the next memtable log ahead of badger, empty with
// blocks allocated past its end (FALLOC_FL_KEEP_SIZE). The ends are found
// by walking the entries written since the last look (the format of
// badger's logs: header | key | value | CRC32, the header a meta byte, a
// user-meta byte and uvarints key length, value length, expiry).

const (
	fallocKeepSize = 0x01 // FALLOC_FL_KEEP_SIZE: allocate past the end without growing the file
	logHeader      = 20   // badger's vlogHeaderSize: the key id and IV a log file starts with
	// walCostPerChunk is a memtable log entry of one chunk's key and value
	// pointer, rounded up; walSlack covers the torrent metadata and the
	// transaction's end mark.
	walCostPerChunk = 96
	walSlack        = 4 << 10
)

// logTail is what the cache knows of one badger log file: its number, and
// an offset no greater than where its written entries end.
type logTail struct {
	fid int
	end int64
}

// preallocate allocates, for a commit of a piece of size bytes, the value
// log's next cost bytes and the memtable log's next entries, and makes the
// next memtable log. writeMu is held exclusively (no other write lands
// meanwhile). A disk without the room fails with an error wrapping
// syscall.ENOSPC; a filesystem without fallocate is left to the free-space
// checks.
func (c *Cache) preallocate(size, cost int64) error {
	if c.noFallocate {
		return nil
	}
	wal := int64(c.numChunks(size))*walCostPerChunk + walSlack
	err := c.allocTail(&c.vlogTail, "%06d.vlog", cost)
	if err == nil {
		err = c.allocTail(&c.memTail, "%05d.mem", wal)
	}
	if err == nil {
		err = c.allocNextMem(wal)
	}
	switch {
	case errors.Is(err, syscall.EOPNOTSUPP):
		c.noFallocate = true
		return nil
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("cache: disk full: no room in %s for a piece of %d bytes; free some space or lower --cache-size: %w", filepath.Clean(c.dir), size, err)
	}
	return err
}

// allocTail allocates n bytes past the written end of the newest log file
// named by pattern. Badger numbers its files in order, so the newest is
// found by looking for the successors of the last one seen.
func (c *Cache) allocTail(t *logTail, pattern string, n int64) error {
	if t.fid == 0 {
		t.fid = newestLog(c.dir, pattern)
		t.end = logHeader
	}
	for {
		fi, err := os.Stat(filepath.Join(c.dir, fmt.Sprintf(pattern, t.fid+1)))
		if err != nil || fi.Size() == 0 { // none, or the empty one made ahead
			break
		}
		t.fid, t.end = t.fid+1, logHeader
	}
	f, err := os.OpenFile(filepath.Join(c.dir, fmt.Sprintf(pattern, t.fid)), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		t.fid = 0 // gone (a memtable flushed): look again next time
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if t.end, err = logEnd(f, t.end); err != nil {
		return err
	}
	return syscall.Fallocate(int(f.Fd()), fallocKeepSize, t.end, n)
}

// allocNextMem makes the memtable log badger opens next, empty, with n
// bytes allocated: badger truncates it up to its size and writes from the
// front.
func (c *Cache) allocNextMem(n int64) error {
	path := filepath.Join(c.dir, fmt.Sprintf("%05d.mem", c.memTail.fid+1))
	if c.memTail.fid == 0 || c.nextMem == path {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			c.nextMem = path
			return nil
		}
		return err
	}
	defer f.Close()
	if err := syscall.Fallocate(int(f.Fd()), fallocKeepSize, 0, n); err != nil {
		os.Remove(path)
		return err
	}
	c.nextMem = path
	return nil
}

// newestLog is the number of the newest log file named by pattern in dir,
// or 0.
func newestLog(dir, pattern string) int {
	entries, _ := os.ReadDir(dir)
	newest := 0
	for _, e := range entries {
		var fid int
		if _, err := fmt.Sscanf(e.Name(), pattern, &fid); err == nil && fmt.Sprintf(pattern, fid) == e.Name() {
			if fi, err := e.Info(); err == nil && fi.Size() > 0 {
				newest = max(newest, fid)
			}
		}
	}
	return newest
}

// logEnd walks the entries of a badger log from off, an entry's start, to
// where they end: the first header of zeros (badger zeroes the header after
// its last entry) or the end of the file.
func logEnd(f *os.File, off int64) (int64, error) {
	var buf [2 + 3*binary.MaxVarintLen64]byte
	for {
		n, err := f.ReadAt(buf[:], off)
		if n < 2 {
			return off, nil
		}
		if err != nil && n < len(buf) {
			clear(buf[n:])
		}
		klen, a := binary.Uvarint(buf[2:])
		vlen, b := binary.Uvarint(buf[2+max(a, 0):])
		_, d := binary.Uvarint(buf[2+max(a, 0)+max(b, 0):])
		if klen == 0 || a <= 0 || b <= 0 || d <= 0 {
			return off, nil
		}
		off += int64(2+a+b+d) + int64(klen) + int64(vlen) + 4
	}
}
