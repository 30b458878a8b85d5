package fetch

import (
	"github.com/btfs/btfs/fetch/picker"
)

// Background fill: while a file is open, the pieces of it the readers have
// not asked for are fetched at the lowest priority (Normal, below every
// read, readahead, head and tail), nearest a reader's position first: ahead
// of it, then behind. A later seek, or a second pass of a player's scan,
// finds them in the cache. It never slows a read down: a fill block is
// asked for only when the peer has nothing of higher priority to send, and
// a peer has at most maxFillPerPeer of them in flight, so a block a read
// waits for queues behind at most that much; it never evicts: the fill
// stops while the storage has no free room (RoomReporter). It ends with the
// last reader of the file. Config.NoFill turns it off; a torrent that
// wants every piece (WantAll) has no use for it.
const (
	// fillPieces is how many pieces the fill wants at once: enough to keep
	// the peers' spare capacity busy, few enough that a reader's readahead,
	// moving on, finds little of the swarm taken.
	fillPieces = 4
	// maxFillPerPeer bounds a peer's fill requests in flight: 8 blocks is
	// 128 KiB, under a millisecond at the rates of a loopback or LAN peer.
	maxFillPerPeer = 8
)

// RoomReporter is a Storage that can say how many bytes it can take
// without evicting anything; the fill stops when that is less than it
// wants. A Storage without it is filled until the file is complete.
type RoomReporter interface {
	Room() int64
}

// filling reports whether the background fill runs for this torrent.
func (t *Torrent) filling() bool { return !t.cfg.WantAll && !t.cfg.NoFill }

// fillMore raises pieces of the open files to Normal until the fill wants
// fillPieces of them, nearest a reader's position first. It runs on the
// loop: after a piece is stored, on a tick, and after a read's demand.
func (t *Torrent) fillMore() {
	if !t.filling() {
		return
	}
	for i := range t.fill {
		if t.picker.Have(i) {
			delete(t.fill, i)
		}
	}
	if len(t.fill) >= fillPieces || len(t.demand.readers) == 0 {
		return
	}
	if rr, ok := t.cfg.Storage.(RoomReporter); ok && rr.Room() < int64(fillPieces)*t.info.PieceLength {
		return
	}
	for r, c := range t.demand.readers {
		for len(t.fill) < fillPieces {
			i, ok := t.nextFill(r, c)
			if !ok {
				break
			}
			t.fill[i] = struct{}{}
			t.picker.SetPriority(i, picker.Normal)
		}
	}
}

// nextFill finds the piece of r's range to fill next: the first one ahead
// of its position that is neither had nor wanted, or else the last one
// behind it. The cursors only move away from the position, so a file is
// scanned once per position, not once per call.
func (t *Torrent) nextFill(r *Reader, c *readerClaims) (int, bool) {
	first, end := t.info.PieceRange(r.off, r.size)
	if end <= first {
		return 0, false
	}
	pos := min(max(c.pos, first), end-1)
	if c.fillAhead < pos || c.fillAhead > end {
		c.fillAhead = pos
	}
	if c.fillBehind >= pos || c.fillBehind < first-1 {
		c.fillBehind = pos - 1
	}
	for ; c.fillAhead < end; c.fillAhead++ {
		if t.fillable(c.fillAhead) {
			return c.fillAhead, true
		}
	}
	for ; c.fillBehind >= first; c.fillBehind-- {
		if t.fillable(c.fillBehind) {
			return c.fillBehind, true
		}
	}
	return 0, false
}

// fillable reports whether the fill may take piece i: nothing has it or
// wants it yet.
func (t *Torrent) fillable(i int) bool {
	_, taken := t.fill[i]
	return !taken && !t.picker.Have(i) && !t.held.has(i) && t.picker.Priority(i) == picker.None
}

// stopFill drops the fill of r's range when r closes, unless another open
// reader's range holds the piece too (it goes on filling it).
func (t *Torrent) stopFill(r *Reader) {
	for i := range t.fill {
		if !r.covers(t, i) {
			continue
		}
		still := false
		for o := range t.demand.readers {
			if o != r && o.covers(t, i) {
				still = true
				break
			}
		}
		if !still {
			delete(t.fill, i)
			t.lower(i)
		}
	}
}

// covers reports whether piece i holds bytes of r's range.
func (r *Reader) covers(t *Torrent, i int) bool {
	first, end := t.info.PieceRange(r.off, r.size)
	return i >= first && i < end
}

// maxFillFor is how many blocks of Normal pieces p may be given now: all it
// can take when the whole torrent is wanted, else what is left of its
// fill allowance.
func (t *Torrent) maxFillFor(p *peer, need int) int {
	if !t.filling() {
		return need
	}
	return max(0, min(need, maxFillPerPeer-len(p.fillReqs)))
}
