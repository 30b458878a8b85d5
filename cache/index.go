package cache

import (
	"errors"
	"fmt"

	"github.com/btfs/btfs/metainfo"
	"github.com/dgraph-io/badger/v4"
)

// loadFormat reads the store's chunk size, or records want in a new store.
func (c *Cache) loadFormat(want int) (int, error) {
	var cs int
	err := c.update(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(keyFormatString))
		if errors.Is(err, badger.ErrKeyNotFound) {
			cs = want
			return txn.Set([]byte(keyFormatString), encodeFormat(want))
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) (err error) {
			cs, err = decodeFormat(v)
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("cache: %s: %w", c.dir, err)
	}
	return cs, nil
}

// loadIndex builds the in-memory index from the keys alone (rule 4): which
// pieces each torrent has, and their recency (lru.go).
// Keys come sorted, so the chunks of a piece are consecutive and one pass
// with no per-piece allocation does. Pieces missing chunks (a drop cut
// short by a crash) and pieces without their torrent's metadata are
// dropped.
func (c *Cache) loadIndex() error {
	drop, err := c.scanIndex()
	if err != nil {
		return fmt.Errorf("cache: reading the index of %s: %w", c.dir, err)
	}
	return c.dropPrefixes(drop)
}

// scanIndex fills the index and returns the key prefixes to drop.
func (c *Cache) scanIndex() (drop [][]byte, err error) {
	metas := map[metainfo.Hash]meta{}
	infos := map[metainfo.Hash]bool{} // torrents whose info is kept (info.go)
	bad := 0
	c.mu.Lock()
	defer c.mu.Unlock()
	err = c.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixMeta}})
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			if len(item.Key()) != torrentKeyLen {
				continue
			}
			var h metainfo.Hash
			copy(h[:], item.Key()[1:])
			if err := item.Value(func(v []byte) error {
				if m, err := decodeMeta(v); err == nil {
					metas[h] = m
				}
				return nil
			}); err != nil {
				it.Close()
				return err
			}
		}
		it.Close()
		it = txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixInfo}}) // keys only
		for it.Rewind(); it.Valid(); it.Next() {
			var h metainfo.Hash
			copy(h[:], it.Item().Key()[1:])
			if _, ok := metas[h]; !ok || len(it.Item().Key()) != torrentKeyLen {
				drop = append(drop, it.Item().KeyCopy(nil)) // an info without its metadata: cut short
				continue
			}
			infos[h] = true
		}
		it.Close()
		sn, stale, err := loadSnapshot(txn, metas)
		if err != nil {
			return err
		}
		drop = append(drop, stale...)

		// The piece being gathered: its torrent, index, chunks seen and
		// the version of its chunk 0.
		var (
			s             *TorrentStore
			cur           metainfo.Hash
			piece, chunks = -1, 0
			version       uint64
			orphan        bool
		)
		flush := func() {
			if piece < 0 || orphan {
				return
			}
			if piece >= len(s.used) || version == 0 || chunks != c.numChunks(s.meta.pieceSize(piece)) {
				bad++
				drop = append(drop, piecePrefix(cur, piece))
				return
			}
			size := s.meta.pieceSize(piece)
			tick := sn.tick(cur, piece, version)
			s.markStoredLocked(piece, tick, size)
			c.live += size
			c.clock = max(c.clock, tick)
		}
		it = txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixPiece}}) // keys only
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			h, p, chunk, ok := parseChunkKey(item.Key())
			if !ok {
				drop = append(drop, item.KeyCopy(nil))
				continue
			}
			if piece < 0 || h != cur || p != piece {
				flush()
				if piece < 0 || h != cur { // the first piece of a torrent
					m, known := metas[h]
					if orphan = !known; orphan {
						c.log.Warn("cache: pieces without their torrent's metadata; dropping them", "info_hash", h)
						drop = append(drop, torrentKey(prefixPiece, h))
					} else {
						s = c.storeLocked(h, m)
					}
				}
				cur, piece, chunks, version = h, p, 0, 0
			}
			chunks++
			if chunk == 0 {
				version = item.Version()
			}
		}
		flush()
		return nil
	})
	if err != nil {
		return nil, err
	}
	for h, m := range metas {
		switch {
		case infos[h]: // kept with its info, pieces or none
			c.storeLocked(h, m).hasInfo = true
		case c.torrents[h] == nil: // no piece left (Remove or eviction cut short)
			drop = append(drop, torrentKey(prefixMeta, h), torrentKey(prefixLRU, h))
		}
	}
	if bad > 0 {
		c.log.Warn("cache: dropping incomplete pieces (an eviction cut short?)", "pieces", bad)
	}
	return drop, nil
}

// numChunks is how many chunks a piece of size bytes has.
func (c *Cache) numChunks(size int64) int {
	return int((size + int64(c.chunkSize) - 1) / int64(c.chunkSize))
}
