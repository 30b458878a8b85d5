package cache

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
)

// lseek's whence values for sparse files (Linux, since 3.1; tmpfs since
// 3.8). Where they are not supported the whole file counts as data, and
// nothing is trimmed.
const (
	seekData = 3
	seekHole = 4
)

// makeReserve allocates the reserve file (room.go, rule 3), blocks and all,
// so that deleting it frees reserveSize at once.
func (c *Cache) makeReserve() error {
	path := filepath.Join(c.dir, reserveName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("making the reserve file: %w", err)
	}
	size := c.reserveSize()
	err = syscall.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, syscall.EOPNOTSUPP) {
		// A filesystem without fallocate: write the blocks.
		_, err = f.WriteAt(make([]byte, size), 0)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("making the reserve file: %w", err)
	}
	return nil
}

// hasReserve reports whether the reserve file is in place, whole.
func (c *Cache) hasReserve() bool {
	fi, err := os.Stat(filepath.Join(c.dir, reserveName))
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Blocks*512 >= c.reserveSize()
}

// releaseReserveIfFull deletes the reserve file when the disk has less than
// reserveSize free, so that what badger writes on its own at Open and Close
// finds room. The next write makes it again.
func (c *Cache) releaseReserveIfFull() {
	free, err := freeSpace(c.dir)
	if err != nil || free >= c.reserveSize() {
		return
	}
	c.log.Warn("cache: the disk is full; releasing the cache's reserve so that its store can open and close",
		"dir", c.dir, "free", free)
	if err := os.Remove(filepath.Join(c.dir, reserveName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		c.log.Warn("cache: releasing the reserve", "err", err)
	}
	c.roomMu.Lock()
	c.room.reserved = false
	c.roomMu.Unlock()
}

// trimSparseTails cuts off the never-written tail of each memtable log and
// value-log file: badger makes them sparse at twice their size and fills
// them from the front, so a crash leaves a hole at the end, which badger's
// replay at Open reads through its memory map to find where the log ends.
// On tmpfs a read of a hole through a map allocates a page, and on a full
// disk that is a SIGBUS (TestFullDiskKill9). Without the hole, the replay
// ends at the end of the file, as after a clean truncation.
func trimSparseTails(dir string, log *slog.Logger) error {
	return eachLogFile(dir, func(e os.DirEntry) error {
		cut, err := trimSparseTail(filepath.Join(dir, e.Name()))
		if cut > 0 {
			log.Debug("cache: trimmed the unwritten tail of a log left by a crash", "file", e.Name(), "bytes", cut)
		}
		return err
	})
}

// trimSparseTail truncates path at its first hole if no data follows it,
// and returns the bytes cut.
func trimSparseTail(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	hole, err := f.Seek(0, seekHole)
	if err != nil || hole >= size {
		return 0, nil // no holes, or no answer
	}
	if _, err := f.Seek(hole, seekData); !errors.Is(err, syscall.ENXIO) {
		return 0, nil // data after the hole: not a tail badger left
	}
	if err := f.Truncate(hole); err != nil {
		return 0, err
	}
	return size - hole, nil
}
