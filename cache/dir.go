package cache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/btfs/btfs/internal/bytesize"
)

// probeWritable makes sure the cache can write in dir before badger tries:
// badger's own error for a read-only directory names a file deep inside
// it, and would be taken for a broken store.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".btfs-probe-*")
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return nil // a full disk is handled later, without a new file
		}
		return dirError(dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// dirError says what is wrong with a cache directory the cache cannot
// make or write in, and what to do about it.
func dirError(dir string, err error) error {
	dir = filepath.Clean(dir)
	switch {
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("cache directory %s is on a read-only filesystem; give --cache-dir a directory on a writable one: %w", dir, err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("cache directory %s is not writable by this user; fix its permissions or give --cache-dir a directory of your own: %w", dir, err)
	case errors.Is(err, syscall.ENOTDIR) || errors.Is(err, os.ErrExist):
		return fmt.Errorf("cache directory %s: a file is in the way; give --cache-dir a directory: %w", dir, err)
	}
	return fmt.Errorf("cache directory %s: %w", dir, err)
}

// defaultMaxSize is the bound when none is given: DefaultMaxSize, or
// DefaultDiskShare of what the disk has room for (its free space plus what
// the cache in dir takes already) when that is less; MinMaxSize if that
// share is smaller still but the disk holds it. A disk without room for
// MinMaxSize is an error that says so.
func defaultMaxSize(dir string) (int64, error) {
	free, err := freeSpace(dir)
	if err != nil {
		return DefaultMaxSize, nil // no answer: the full-disk checks still hold
	}
	room := free + dirUsage(dir)
	if room < MinMaxSize {
		return 0, fmt.Errorf("cache: %s has room for %s, and the cache needs at least %s; free some space or give --cache-dir a directory on another disk",
			filepath.Clean(dir), bytesize.Format(room), bytesize.Format(MinMaxSize))
	}
	return max(min(DefaultMaxSize, room/100*DefaultDiskShare), MinMaxSize), nil
}
