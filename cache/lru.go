package cache

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btfs/btfs/metainfo"
	"github.com/dgraph-io/badger/v4"
)

// Recency survives a clean restart: Close writes, per torrent, the LRU tick
// of each stored piece (u | info-hash -> uvarint pairs: piece delta, tick),
// and the clock with badger's latest version at that moment (\x00lru). Open
// gives a piece its saved tick if it was written before the snapshot, and
// orders pieces written after it (by a session that then crashed) after
// everything in it, by version. Without a snapshot, recency is write order.

// snapshot is what Open read of the last clean Close's recency record.
type snapshot struct {
	clock, version uint64
	ticks          map[metainfo.Hash][]uint64 // per piece, 0 when not saved
}

// tick is the LRU tick a piece written at version starts with.
func (sn *snapshot) tick(h metainfo.Hash, piece int, version uint64) uint64 {
	if sn.version == 0 {
		return version
	}
	if version > sn.version {
		return sn.clock + version - sn.version
	}
	if t := sn.ticks[h]; piece < len(t) && t[piece] != 0 {
		return t[piece]
	}
	return version // older than the snapshot and not in it: oldest
}

// loadSnapshot reads the recency record for the torrents in metas, and
// returns the keys of records of torrents the cache no longer has.
func loadSnapshot(txn *badger.Txn, metas map[metainfo.Hash]meta) (*snapshot, [][]byte, error) {
	sn := &snapshot{ticks: map[metainfo.Hash][]uint64{}}
	item, err := txn.Get([]byte(keyLRUString))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return sn, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	err = item.Value(func(v []byte) error {
		clock, n := binary.Uvarint(v)
		version, m := binary.Uvarint(v[max(n, 0):])
		if n > 0 && m > 0 && clock >= version {
			sn.clock, sn.version = clock, version
		}
		return nil
	})
	if err != nil || sn.version == 0 {
		return sn, nil, err
	}
	var stale [][]byte
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixLRU}, PrefetchValues: false})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		var h metainfo.Hash
		copy(h[:], item.Key()[1:])
		m, ok := metas[h]
		if !ok || len(item.Key()) != torrentKeyLen {
			stale = append(stale, item.KeyCopy(nil))
			continue
		}
		ticks := make([]uint64, m.numPieces())
		err := item.Value(func(v []byte) error {
			piece := -1
			for len(v) > 0 {
				d, n := binary.Uvarint(v)
				t, k := binary.Uvarint(v[max(n, 0):])
				if n <= 0 || k <= 0 {
					return nil // damaged: keep what was read
				}
				v = v[n+k:]
				if piece += int(d); piece < 0 || piece >= len(ticks) {
					return nil
				}
				ticks[piece] = t
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		sn.ticks[h] = ticks
	}
	return sn, stale, nil
}

// saveSnapshot writes the recency record; Close calls it with every
// operation done. It is best effort: without it the next Open falls back
// to write order.
func (c *Cache) saveSnapshot() error {
	if c.lowOnDisk() {
		return errors.New("disk nearly full")
	}
	c.mu.Lock()
	type record struct {
		key, val []byte
	}
	var records []record
	for h, s := range c.torrents {
		if s.stored == 0 {
			continue
		}
		var v []byte
		last := -1
		for i, t := range s.used {
			if t != 0 {
				v = binary.AppendUvarint(v, uint64(i-last))
				v = binary.AppendUvarint(v, t)
				last = i
			}
		}
		records = append(records, record{torrentKey(prefixLRU, h), v})
	}
	clock := c.clock
	c.mu.Unlock()
	for _, r := range records {
		if err := c.update(func(txn *badger.Txn) error { return txn.Set(r.key, r.val) }); err != nil {
			return err
		}
	}
	// The version read last: every piece written before it is in a record.
	v := binary.AppendUvarint(nil, max(clock, c.db.MaxVersion()))
	v = binary.AppendUvarint(v, c.db.MaxVersion())
	if err := c.update(func(txn *badger.Txn) error { return txn.Set([]byte(keyLRUString), v) }); err != nil {
		return fmt.Errorf("cache: saving recency: %w", err)
	}
	return nil
}
