package cache

import (
	"cmp"
	"errors"
	"slices"
	"syscall"
	"time"

	"github.com/btfs/btfs/internal/bytesize"
	"github.com/dgraph-io/badger/v4"
)

// victim is a piece chosen for eviction.
type victim struct {
	s     *TorrentStore
	piece int
	tick  uint64
}

// makeRoom evicts pieces, least recently used first, until live bytes are
// under the bound by evictSlack. It reports false, evicting nothing, when
// the pieces no reader holds are too few.
func (c *Cache) makeRoom() bool { return c.evict(0) }

// evict evicts pieces, least recently used first, until live bytes are
// extra bytes under the bound, and evictSlack more. It holds writeMu
// exclusively from choosing the victims to dropping them, so that no commit
// lands in between: a concurrent write of a victim piece commits after the
// drop, not before it. It reports false, evicting nothing, when the pieces
// no reader holds are too few.
func (c *Cache) evict(extra int64) bool {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.Lock()
	need := c.live - c.liveMax
	if extra > 0 {
		need = max(need, 0) + extra
	}
	if need <= 0 {
		c.mu.Unlock()
		return true
	}
	var cands []victim
	for _, s := range c.torrents {
		for i, u := range s.used {
			if u != 0 && s.pins[i] == 0 {
				cands = append(cands, victim{s, i, u})
			}
		}
	}
	slices.SortFunc(cands, func(a, b victim) int { return cmp.Compare(a.tick, b.tick) })
	var freeable int64
	n := 0
	for n < len(cands) && freeable < need+c.evictSlack {
		freeable += cands[n].s.meta.pieceSize(cands[n].piece)
		n++
	}
	if freeable < need {
		c.mu.Unlock()
		return false
	}
	prefixes := make([][]byte, 0, n)
	for _, v := range cands[:n] {
		v.s.dropLocked(v.piece)
		prefixes = append(prefixes, piecePrefix(v.s.hash, v.piece))
		if v.s.stored == 0 && v.s.info == nil && !v.s.hasInfo && c.torrents[v.s.hash] == v.s {
			// Nobody uses it and nothing is left: forget it altogether.
			delete(c.torrents, v.s.hash)
			prefixes = append(prefixes, torrentKey(prefixMeta, v.s.hash), torrentKey(prefixLRU, v.s.hash))
		}
	}
	live := c.live
	c.mu.Unlock()
	c.log.Debug("cache: evicted", "pieces", n, "bytes", bytesize.Format(freeable), "live", bytesize.Format(live))
	c.dropPrefixesLocked(prefixes)
	c.kickGC()
	return true
}

// dropPieces drops pieces of s (found corrupt) from the index and the
// store. With the disk nearly full only the index forgets them; the next
// Open finds them again and their first read drops them.
func (c *Cache) dropPieces(s *TorrentStore, pieces []int) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	var prefixes [][]byte
	c.mu.Lock()
	for _, p := range pieces {
		s.dropLocked(p)
		prefixes = append(prefixes, piecePrefix(s.hash, p))
	}
	c.mu.Unlock()
	if !c.lowOnDisk() {
		c.dropPrefixesLocked(prefixes)
		c.kickGC()
	}
}

// dropPrefixes deletes every key under prefixes.
func (c *Cache) dropPrefixes(prefixes [][]byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.dropPrefixesLocked(prefixes)
}

// dropPrefixesLocked runs DropPrefix in batches; writeMu is held. A failed
// drop leaves valid pieces on disk that the index no longer lists: wasted
// space until the next Open finds them again, never wrong data.
func (c *Cache) dropPrefixesLocked(prefixes [][]byte) error {
	for len(prefixes) > 0 {
		n := min(len(prefixes), dropBatch)
		if err := c.db.DropPrefix(prefixes[:n]...); err != nil {
			c.log.Error("cache: dropping pieces failed", "err", err)
			return err
		}
		prefixes = prefixes[n:]
	}
	return nil
}

func (c *Cache) kickGC() {
	select {
	case c.gcKick <- struct{}{}:
	default:
	}
}

// gcLoop runs value-log GC after evictions and every gcInterval, until Close.
func (c *Cache) gcLoop() {
	defer c.wg.Done()
	t := time.NewTicker(gcInterval)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-c.gcKick:
		case <-t.C:
		}
		if err := c.collect(); err != nil {
			c.log.Warn("cache: value-log GC", "err", err)
		}
	}
}

// collect rewrites value-log files while one is worth it: gcRatio of it
// garbage, or gcPressureRatio while the directory is over the bound. It
// stops early when the cache is closing.
func (c *Cache) collect() error { return c.collectAt(gcRatio) }

// collectAt is collect settling for ratio, or for less while the directory
// is over the bound; with the disk nearly full it takes only files that
// are nearly all garbage, whatever ratio says.
func (c *Cache) collectAt(ratio float64) error {
	c.gcMu.Lock() // one round at a time, so badger never answers ErrRejected
	defer c.gcMu.Unlock()
	for {
		select {
		case <-c.quit:
			return nil
		default:
		}
		ratio := ratio
		switch {
		case c.lowOnDisk():
			ratio = gcLowDiskRatio
		case c.diskUsage() > c.maxSize:
			ratio = min(ratio, gcPressureRatio)
		}
		c.writeMu.Lock()
		err := c.gcRound(ratio)
		c.writeMu.Unlock()
		switch {
		case err == nil:
		case errors.Is(err, badger.ErrNoRewrite):
			return nil
		default:
			return err
		}
	}
}

// gcRound runs one round of value-log GC at ratio; writeMu is held. The
// blocks the round may copy into are allocated first (prealloc.go): GC
// copies the live values of one file, at most 1-ratio of it, to the end of
// the value log. Without room for that it skips the round.
func (c *Cache) gcRound(ratio float64) error {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	if !c.noFallocate {
		copyMax := int64((1 - ratio) * float64(2*c.vlogFileSize))
		if err := c.allocTail(&c.vlogTail, "%06d.vlog", copyMax); err != nil {
			if errors.Is(err, syscall.EOPNOTSUPP) {
				c.noFallocate = true
			} else {
				return badger.ErrNoRewrite // no room to copy into: collect later
			}
		}
	}
	return c.db.RunValueLogGC(ratio)
}

// Compact gives the disk space of dropped pieces back now, rather than on
// the next background round: what `btfs cache rm` does before it exits.
func (c *Cache) Compact() error {
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	return c.collect()
}
