package cache

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"syscall"

	"github.com/btfs/btfs/metainfo"
)

// TorrentUsage is what the cache holds of one torrent.
type TorrentUsage struct {
	Hash      metainfo.Hash
	Name      string // the torrent's name, as its info says
	Pieces    int    // pieces stored
	NumPieces int    // pieces in the torrent
	Bytes     int64  // bytes of the pieces stored
}

// List returns what the cache holds of each torrent, from the in-memory
// index, largest first. A torrent is forgotten when its last piece goes,
// unless it is attached (Torrent) or its info is kept (PutInfo), which
// lists it with no pieces.
func (c *Cache) List() []TorrentUsage {
	c.mu.Lock()
	out := make([]TorrentUsage, 0, len(c.torrents))
	for h, s := range c.torrents {
		out = append(out, TorrentUsage{Hash: h, Name: s.meta.name, Pieces: s.stored, NumPieces: len(s.used), Bytes: s.bytes})
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b TorrentUsage) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), cmp.Compare(a.Name, b.Name), slices.Compare(a.Hash[:], b.Hash[:]))
	})
	return out
}

// Usage is the cache's size.
type Usage struct {
	Live    int64 // bytes of stored pieces
	Disk    int64 // the directory's size on disk, as du counts it
	MaxSize int64 // the bound on Disk
}

// Usage measures the cache.
func (c *Cache) Usage() Usage {
	c.mu.Lock()
	live := c.live
	c.mu.Unlock()
	return Usage{Live: live, Disk: c.diskUsage(), MaxSize: c.maxSize}
}

// Remove forgets a torrent: its pieces, metadata and info are dropped, even
// pieces a reader holds, and an attached TorrentStore reports them as
// evicted. The disk space comes back with the next GC round, or at once with
// Compact.
func (c *Cache) Remove(h metainfo.Hash) error {
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	if err := c.checkFree(0); err != nil { // a drop flushes a memtable (rule 7)
		return fmt.Errorf("cache: removing %s: %w", h, err)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.Lock()
	s := c.torrents[h]
	if s == nil {
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", h, ErrNotCached)
	}
	s.dropAllLocked()
	s.hasInfo = false
	if s.info == nil { // nobody uses it: forget it altogether
		delete(c.torrents, h)
	}
	c.mu.Unlock()
	if err := c.dropPrefixesLocked([][]byte{torrentKey(prefixPiece, h), torrentKey(prefixMeta, h), torrentKey(prefixLRU, h), torrentKey(prefixInfo, h)}); err != nil {
		return fmt.Errorf("cache: removing %s: %w", h, err)
	}
	c.kickGC()
	return nil
}

// diskUsage is the directory's size on disk.
func (c *Cache) diskUsage() int64 { return dirUsage(c.dir) }

// dirUsage is dir's size as du counts it: allocated blocks, so the sparse
// tails of files badger extends ahead of writing do not count.
func dirUsage(dir string) int64 {
	var total int64
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue // deleted under us by GC
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		} else {
			total += fi.Size()
		}
	}
	return total
}

// freeSpace is what the filesystem holding dir lets an unprivileged user write.
func freeSpace(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * st.Bsize, nil
}
