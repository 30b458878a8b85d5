package cache

import (
	"crypto/sha1"
	"errors"
	"fmt"

	"github.com/btfs/btfs/internal/bytesize"
	"github.com/btfs/btfs/metainfo"
	"github.com/dgraph-io/badger/v4"
)

// readAttempts: a read that fails is tried again once with a fresh
// transaction, because value-log GC may delete the file a value pointer
// read a moment earlier points into (badger's reads by Get take no
// reference on the file); the fresh lookup finds the value's new place.
const readAttempts = 2

// ReadAt fills p from piece, starting off bytes into it. It fails with
// ErrNotStored when the piece is not in the cache, and with ErrCorrupt when
// it was but failed its check (it is then dropped and reported as evicted).
func (s *TorrentStore) ReadAt(p []byte, piece int, off int64) error {
	c := s.c
	size, err := s.span(piece, off, len(p))
	if err != nil {
		return err
	}
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	c.mu.Lock()
	if s.used[piece] == 0 {
		c.mu.Unlock()
		return fmt.Errorf("piece %d of %s: %w", piece, s.hash, ErrNotStored)
	}
	s.pins[piece]++ // so no eviction drops it under the read
	c.clock++
	s.used[piece] = c.clock
	checked := s.checked[piece]
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		s.unpinLocked(piece)
		c.mu.Unlock()
	}()

	if !checked {
		if err = s.verify(piece, size); err == nil {
			c.mu.Lock()
			if s.used[piece] != 0 {
				s.checked[piece] = true
			}
			c.mu.Unlock()
		}
	}
	if err == nil {
		err = s.read(p, piece, off, size)
	}
	if err == nil || errors.Is(err, badger.ErrDBClosed) {
		return err
	}
	c.mu.Lock()
	stored := s.used[piece] != 0
	c.mu.Unlock()
	if !stored { // removed under the read (Remove ignores holds)
		return fmt.Errorf("piece %d of %s: %w", piece, s.hash, ErrNotStored)
	}
	c.log.Warn("cache: dropping a piece that failed its check", "info_hash", s.hash, "piece", piece, "err", err)
	c.dropPieces(s, []int{piece})
	return fmt.Errorf("piece %d of %s: %w: %v", piece, s.hash, ErrCorrupt, err)
}

// errChunk is how a chunk of the wrong size or a missing chunk surfaces.
var errChunk = errors.New("chunk missing or of the wrong size")

// read copies [off, off+len(p)) of piece into p, chunk by chunk.
func (s *TorrentStore) read(p []byte, piece int, off, size int64) error {
	cs := int64(s.c.chunkSize)
	var err error
	for range readAttempts {
		err = s.c.view(func(txn *badger.Txn) error {
			var key [chunkKeyLen]byte
			done := 0
			for chunk := int(off / cs); done < len(p); chunk++ {
				lo := off + int64(done) - int64(chunk)*cs // offset within the chunk
				if err := s.chunk(txn, key[:], piece, chunk, size, func(v []byte) {
					done += copy(p[done:], v[lo:])
				}); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			s.c.noteTouched(int64(len(p)), false)
		}
		if err == nil || errors.Is(err, badger.ErrDBClosed) {
			return err
		}
	}
	return err
}

// chunk passes chunk's bytes to fn, straight from badger's memory-mapped
// value log; fn must not keep them.
func (s *TorrentStore) chunk(txn *badger.Txn, key []byte, piece, chunk int, size int64, fn func([]byte)) error {
	putChunkKey(key, s.hash, piece, chunk)
	item, err := txn.Get(key)
	if err != nil {
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("chunk %d: %w", chunk, errChunk)
		}
		return err
	}
	n := int(min(int64(s.c.chunkSize), size-int64(chunk)*int64(s.c.chunkSize)))
	front, total := chunkLayout(n)
	return item.Value(func(v []byte) error {
		if len(v) != total {
			return fmt.Errorf("chunk %d has %d bytes, want %d: %w", chunk, len(v), total, errChunk)
		}
		fn(v[front : front+n])
		return nil
	})
}

// verify re-hashes the whole stored piece against the torrent's SHA-1,
// hashing straight from the value log.
func (s *TorrentStore) verify(piece int, size int64) error {
	s.c.mu.Lock()
	want := s.info.PieceHash(piece)
	s.c.mu.Unlock()
	var err error
	for range readAttempts {
		h := sha1.New()
		err = s.c.view(func(txn *badger.Txn) error {
			var key [chunkKeyLen]byte
			for chunk := range s.c.numChunks(size) {
				if err := s.chunk(txn, key[:], piece, chunk, size, func(v []byte) { h.Write(v) }); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			var got metainfo.Hash
			if h.Sum(got[:0]); got != want {
				return errors.New("SHA-1 mismatch")
			}
			return nil
		}
		if errors.Is(err, badger.ErrDBClosed) {
			return err
		}
	}
	return err
}

// WritePiece stores a verified piece given as its consecutive blocks. A
// piece already stored is left as it is. Making room evicts other pieces;
// a full disk fails with an error wrapping syscall.ENOSPC.
func (s *TorrentStore) WritePiece(piece int, blocks [][]byte) error {
	c := s.c
	size, err := s.span(piece, 0, 0)
	if err != nil {
		return err
	}
	var n int64
	for _, b := range blocks {
		n += int64(len(b))
	}
	if n != size {
		return fmt.Errorf("cache: piece %d: %d bytes given, want %d", piece, n, size)
	}
	if c.numChunks(size) > maxChunks {
		return fmt.Errorf("cache: piece %d of %s is too large for chunks of %s", piece, bytesize.Format(size), bytesize.Format(int64(c.chunkSize)))
	}
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	// A few writers at a time: the others wait here, not with their bytes
	// counted as live, where they would make eviction give up (ErrNoRoom)
	// while a write collects garbage.
	c.writers <- struct{}{}
	defer func() { <-c.writers }()

	c.mu.Lock()
	if s.used[piece] != 0 {
		c.mu.Unlock()
		return nil
	}
	c.live += size // reserved: concurrent writers see it
	over := c.live > c.liveMax
	metaEnc := s.metaEnc
	c.mu.Unlock()
	if err := c.checkFree(size); err != nil { // first: evicting needs room too
		c.unreserve(size)
		return err
	}
	if over && !c.makeRoom() {
		c.unreserve(size)
		return fmt.Errorf("piece %d of %s (%s): %w of %s: the pieces left are held by readers; raise --cache-size",
			piece, s.hash, bytesize.Format(size), ErrNoRoom, bytesize.Format(c.maxSize))
	}
	cost, err := c.admit(size) // the bound on disk, and the disk (room.go)
	if err != nil {
		c.unreserve(size)
		return fmt.Errorf("cache: storing piece %d of %s: %w", piece, s.hash, err)
	}
	err = c.commit(s.hash, piece, blocks, size, cost, metaEnc)
	c.done(cost, err == nil)
	if err != nil {
		c.unreserve(size)
		return fmt.Errorf("cache: storing piece %d of %s: %w", piece, s.hash, err)
	}
	c.noteTouched(size, true)
	c.mu.Lock()
	if s.used[piece] != 0 { // a concurrent write of the same piece won
		c.live -= size
	} else {
		c.clock++
		s.markStoredLocked(piece, c.clock, size)
		s.checked[piece] = true
	}
	c.mu.Unlock()
	return nil
}

func (c *Cache) unreserve(size int64) {
	c.mu.Lock()
	c.live -= size
	c.mu.Unlock()
}

// commit writes piece's chunks and its torrent's metadata in one
// transaction. Chunks are assembled from the blocks in pooled buffers, laid
// out by chunkLayout; badger no longer needs them once Commit returns.
func (c *Cache) commit(h metainfo.Hash, piece int, blocks [][]byte, size, cost int64, metaEnc []byte) error {
	c.writeMu.RLock()
	defer c.writeMu.RUnlock()
	txn := c.newUpdate()
	defer txn.Discard()
	n := c.numChunks(size)
	keys := make([]byte, n*chunkKeyLen)
	var pooled []*[]byte
	defer func() {
		for _, b := range pooled {
			c.chunks.Put(b)
		}
	}()
	bi, bo := 0, 0 // current block, offset in it
	for chunk := range n {
		want := int(min(int64(c.chunkSize), size-int64(chunk)*int64(c.chunkSize)))
		front, total := chunkLayout(want)
		buf := c.chunks.Get().(*[]byte)
		pooled = append(pooled, buf)
		v := (*buf)[:total]
		clear(v[:front])
		clear(v[front+want:])
		for done := 0; done < want; {
			k := copy(v[front+done:front+want], blocks[bi][bo:])
			done += k
			if bo += k; bo == len(blocks[bi]) {
				bi, bo = bi+1, 0
			}
		}
		key := keys[chunk*chunkKeyLen : (chunk+1)*chunkKeyLen]
		putChunkKey(key, h, piece, chunk)
		if err := txn.Set(key, v); err != nil {
			return err
		}
	}
	if err := txn.Set(torrentKey(prefixMeta, h), metaEnc); err != nil {
		return err
	}
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	if err := c.preallocate(size, cost); err != nil {
		return err
	}
	return c.commitTxn(txn)
}
