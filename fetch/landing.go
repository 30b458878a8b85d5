package fetch

import (
	"context"
	"sync"
)

// landingPieces are verified pieces on their way into the storage. A read
// blocked on one is served from its blocks as soon as its hash matched,
// not after the write: a write of a 1 MiB piece to the cache costs a few
// milliseconds, the first byte after a seek waits for none of them. The
// blocks are the download's own (no copy); the loop drops a piece when its
// write has ended, before the blocks go back to the pool. Safe for
// concurrent use: verifiers put, readers read, the loop drops.
type landingPieces struct {
	mu     sync.Mutex // guards pieces
	pieces map[int][][]byte
}

// put makes piece i, given as its blocks, readable until drop.
func (l *landingPieces) put(i int, blocks [][]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pieces == nil {
		l.pieces = map[int][][]byte{}
	}
	l.pieces[i] = blocks
}

// has reports whether piece i is landing.
func (l *landingPieces) has(i int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.pieces[i]
	return ok
}

// readAt fills p from piece i at off if the piece is landing.
func (l *landingPieces) readAt(p []byte, i int, off int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	blocks, ok := l.pieces[i]
	if !ok || off < 0 {
		return false
	}
	n := 0
	for _, b := range blocks {
		if n == len(p) {
			break
		}
		if off >= int64(len(b)) {
			off -= int64(len(b))
			continue
		}
		n += copy(p[n:], b[off:])
		off = 0
	}
	return n == len(p)
}

// drop forgets piece i: its write has ended, and its blocks are about to
// be reused.
func (l *landingPieces) drop(i int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.pieces, i)
}

// land makes a verified piece readable before its write, and has the loop
// wake the reads waiting for it (wakeLanded). It returns at once if the
// torrent is stopping (ctx), the reads end then anyway.
func (t *Torrent) land(ctx context.Context, piece int, blocks [][]byte) {
	t.landing.put(piece, blocks)
	select {
	case t.landed <- piece:
	case <-ctx.Done():
	case <-t.stopped:
	}
}

// wakeLanded releases the reads waiting for piece i, which they now read
// from memory (landing). Nothing else changes until its write has ended
// (handleVerified): what is wanted and asked of peers, what we announce.
func (t *Torrent) wakeLanded(i int) {
	if !t.landing.has(i) {
		return // its write has ended already
	}
	t.demand.wake(i)
}

// readMemory fills seg from piece i at off if the piece is in memory:
// landing (verified, being written) or held (refused by the storage).
func (t *Torrent) readMemory(seg []byte, i int, off int64) bool {
	return t.landing.readAt(seg, i, off) || t.held.readAt(seg, i, off)
}

// discard lets go of a verified piece the loop will not see (the torrent is
// stopping): out of landing first, so that no read copies its blocks once
// they are reused.
func (t *Torrent) discard(r verifyResult) {
	t.landing.drop(r.piece)
	t.releaseBlocks(r.blocks)
}
