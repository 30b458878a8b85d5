package cache

import (
	"fmt"
	"slices"

	"github.com/btfs/btfs/internal/bitfield"
	"github.com/btfs/btfs/metainfo"
)

// TorrentStore is one torrent's view of the cache: the Storage the engine
// reads and writes pieces through. Get it from Cache.Torrent.
type TorrentStore struct {
	c         *Cache
	hash      metainfo.Hash
	evictedCh chan struct{} // cap 1: pieces were dropped since the last TakeEvicted

	// Guarded by c.mu.
	info    *metainfo.Info // nil until Torrent attaches it
	meta    meta
	metaEnc []byte   // meta.encode(), written with every piece (rule 1)
	used    []uint64 // per piece: LRU tick when stored, 0 when not
	checked []bool   // per piece: verified since Open (written, or re-hashed on first read)
	pins    map[int]int
	stored  int   // pieces stored
	bytes   int64 // their bytes
	evicted []int // dropped since the last TakeEvicted
	hasInfo bool  // its info dictionary is kept (PutInfo): forgotten only by Remove
}

// Torrent returns the store of the torrent with info-hash hash, whose info
// sizes and verifies its pieces. Every call for one hash returns the same
// store. Pieces stored under different metadata (a damaged index) are
// dropped.
func (c *Cache) Torrent(hash metainfo.Hash, info *metainfo.Info) *TorrentStore {
	m := metaOf(info)
	c.mu.Lock()
	s := c.torrents[hash]
	var stale []int
	if s != nil && (s.meta.pieceLength != m.pieceLength || s.meta.length != m.length) {
		c.log.Warn("cache: stored pieces do not match the torrent's info; dropping them", "info_hash", hash)
		stale = s.dropAllLocked()
		delete(c.torrents, hash)
		s = nil
	}
	if s == nil {
		s = c.storeLocked(hash, m)
	}
	s.info, s.meta, s.metaEnc = info, m, m.encode()
	c.mu.Unlock()
	if len(stale) > 0 {
		c.dropPrefixes([][]byte{torrentKey(prefixPiece, hash)})
	}
	return s
}

// storeLocked returns the state of torrent h, making it if new.
func (c *Cache) storeLocked(h metainfo.Hash, m meta) *TorrentStore {
	if s := c.torrents[h]; s != nil {
		return s
	}
	n := m.numPieces()
	s := &TorrentStore{
		c: c, hash: h, evictedCh: make(chan struct{}, 1), meta: m, metaEnc: m.encode(),
		used: make([]uint64, n), checked: make([]bool, n), pins: map[int]int{},
	}
	c.torrents[h] = s
	return s
}

// Hash is the torrent's info-hash.
func (s *TorrentStore) Hash() metainfo.Hash { return s.hash }

// Have returns the pieces stored now, from the in-memory index (no value is
// read). Pieces evicted later are reported through Evicted.
func (s *TorrentStore) Have() bitfield.Bitfield {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	bf := bitfield.New(len(s.used))
	for i, u := range s.used {
		if u != 0 {
			bf.Set(i)
		}
	}
	return bf
}

// Evicted is signalled when pieces of this torrent were dropped (evicted,
// removed, or found corrupt); TakeEvicted says which. The engine selects on
// it and forgets those pieces, so they are fetched again when wanted.
func (s *TorrentStore) Evicted() <-chan struct{} { return s.evictedCh }

// TakeEvicted returns the pieces dropped since the last call (since
// Torrent returned the store, the first time) that are still not stored,
// and forgets them.
func (s *TorrentStore) TakeEvicted() []int {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	out := slices.Compact(slices.Sorted(slices.Values(s.evicted)))
	out = slices.DeleteFunc(out, func(i int) bool { return s.used[i] != 0 })
	s.evicted = nil
	return out
}

// Hold keeps piece from being evicted until release is called (once); ok is
// false, and nothing is held, when the piece is not stored. Reads hold their
// piece by themselves; Hold is for a caller that reads a piece in several
// steps. Remove and a failed check drop a held piece all the same.
func (s *TorrentStore) Hold(piece int) (release func(), ok bool) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if piece < 0 || piece >= len(s.used) || s.used[piece] == 0 {
		return nil, false
	}
	s.pins[piece]++
	released := false
	return func() {
		s.c.mu.Lock()
		defer s.c.mu.Unlock()
		if !released {
			released = true
			s.unpinLocked(piece)
		}
	}, true
}

func (s *TorrentStore) unpinLocked(piece int) {
	if s.pins[piece]--; s.pins[piece] <= 0 {
		delete(s.pins, piece)
	}
}

// markStoredLocked records piece as stored with LRU tick tick.
func (s *TorrentStore) markStoredLocked(piece int, tick uint64, size int64) {
	s.used[piece] = tick
	s.stored++
	s.bytes += size
}

// dropLocked records piece as gone: evicted, removed or corrupt.
func (s *TorrentStore) dropLocked(piece int) {
	if s.used[piece] == 0 {
		return
	}
	size := s.meta.pieceSize(piece)
	s.used[piece] = 0
	s.checked[piece] = false
	s.stored--
	s.bytes -= size
	s.c.live -= size
	if s.info != nil { // attached: someone may have been told it had the piece
		s.evicted = append(s.evicted, piece)
		select {
		case s.evictedCh <- struct{}{}:
		default:
		}
	}
}

// dropAllLocked drops every stored piece and returns them.
func (s *TorrentStore) dropAllLocked() []int {
	var out []int
	for i, u := range s.used {
		if u != 0 {
			s.dropLocked(i)
			out = append(out, i)
		}
	}
	return out
}

// span checks that [off, off+n) lies in piece and returns the piece's size.
func (s *TorrentStore) span(piece int, off int64, n int) (int64, error) {
	s.c.mu.Lock()
	m, attached := s.meta, s.info != nil
	s.c.mu.Unlock()
	if !attached {
		return 0, fmt.Errorf("cache: torrent %s was not opened with Torrent", s.hash)
	}
	if piece < 0 || piece >= m.numPieces() {
		return 0, fmt.Errorf("cache: piece %d out of range [0, %d)", piece, m.numPieces())
	}
	size := m.pieceSize(piece)
	if off < 0 || int64(n) > size-off {
		return 0, fmt.Errorf("cache: range %d+%d is outside piece %d of %d bytes", off, n, piece, size)
	}
	return size, nil
}

// Room is how many bytes of pieces the cache can take before it has to
// evict any (fetch's background fill stops short of that).
func (s *TorrentStore) Room() int64 {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return max(0, s.c.liveMax-s.c.live)
}
