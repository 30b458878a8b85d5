package cache

import (
	"crypto/sha1"
	"errors"
	"fmt"

	"github.com/btfs/btfs/metainfo"
	"github.com/dgraph-io/badger/v4"
)

// A torrent's info dictionary, kept for magnet links: a mount of a magnet
// link fetches the info from peers once, and a remount reads it here, with
// no peer needed. It is stored beside the torrent's metadata (keys.go), so
// a torrent whose info is kept is listed (with its name) even when none of
// its pieces is, and evicting its last piece does not forget it; Remove
// does. Info bytes do not count against the size bound: a few KiB to a few
// MiB per torrent mounted by magnet link, next to its pieces.

// PutInfo keeps info, the info dictionary of the torrent whose info-hash is
// h. It is refused unless its SHA-1 is h and it parses as an info
// dictionary.
func (c *Cache) PutInfo(h metainfo.Hash, info []byte) error {
	parsed, err := metainfo.ParseInfo(info, h)
	if err != nil {
		return fmt.Errorf("cache: info of %s: %w", h, err)
	}
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	if err := c.checkFree(int64(len(info))); err != nil {
		return err
	}
	m := metaOf(parsed)
	c.writeMu.RLock()
	err = c.update(func(txn *badger.Txn) error {
		if err := txn.Set(torrentKey(prefixInfo, h), info); err != nil {
			return err
		}
		return txn.Set(torrentKey(prefixMeta, h), m.encode())
	})
	c.writeMu.RUnlock()
	if err != nil {
		return fmt.Errorf("cache: storing the info of %s: %w", h, err)
	}
	c.mu.Lock()
	c.storeLocked(h, m).hasInfo = true
	c.mu.Unlock()
	return nil
}

// Info returns the info dictionary PutInfo kept for the torrent h, checked
// again against h: ErrNotStored when there is none, ErrCorrupt (and it is
// dropped) when it no longer hashes to h.
func (c *Cache) Info(h metainfo.Hash) ([]byte, error) {
	if err := c.enter(); err != nil {
		return nil, err
	}
	defer c.leave()
	var info []byte
	err := c.view(func(txn *badger.Txn) error {
		item, err := txn.Get(torrentKey(prefixInfo, h))
		if err != nil {
			return err
		}
		info, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("cache: info of %s: %w", h, ErrNotStored)
	}
	if err != nil {
		return nil, fmt.Errorf("cache: reading the info of %s: %w", h, err)
	}
	if sha1.Sum(info) != h {
		c.log.Warn("cache: stored info does not match its info-hash; dropping it", "info_hash", h)
		c.dropPrefixes([][]byte{torrentKey(prefixInfo, h)})
		c.mu.Lock()
		if s := c.torrents[h]; s != nil {
			s.hasInfo = false
		}
		c.mu.Unlock()
		return nil, fmt.Errorf("cache: info of %s: %w", h, ErrCorrupt)
	}
	return info, nil
}
