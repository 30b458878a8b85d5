package fetch

import (
	"context"
	"sync/atomic"

	"github.com/btfs/btfs/internal/bitfield"
	"github.com/btfs/btfs/tracker"
)

// Stats is a snapshot of a torrent's transfer state. Counters (Downloaded to
// CacheMisses) count since New; the rest is the state at the time.
type Stats struct {
	Pieces, Have         int
	Length, Left         int64 // Length-Left is the bytes of the pieces we have
	Downloaded, Uploaded int64
	DownRate, UpRate     float64 // bytes/s, summed over peers
	Peers, Seeders       int
	ChokingUs            int   // connected peers that choke us
	Choked               int   // connected peers we choke
	Candidates           int   // addresses known
	Cancelled            int64 // requests withdrawn: seeks away from readahead, endgame duplicates
	Verified, Failed     int64 // pieces that passed / failed their hash check
	// CacheHits counts the pieces reads found stored, served without a
	// wait; CacheMisses the ones they had to wait for the network for.
	CacheHits, CacheMisses int64
	// Banned is the addresses banned (bans.go); Refused counts connections
	// refused for a ban or the per-address limit; Discarded the bytes
	// received and thrown away: failed pieces, blocks not asked for, what
	// a banned peer had sent, and the blocks of a single-source piece
	// whose peer stopped sending (picker.Release).
	Banned    int
	Refused   int64
	Discarded int64
	// Waiting counts the reads blocked on a piece now, and Urgent the
	// pieces at Urgent priority (one or more reads wait for each).
	Waiting, Urgent int
	// Tracker is what the trackers last said; Announcing is false (and
	// Tracker empty) for a torrent without trackers.
	Tracker    tracker.AnnouncerStatus
	Announcing bool
	// PeersTCP and PeersUTP count the connected peers by transport,
	// PeersEncrypted those whose stream is RC4-encrypted (MSE); PeerConns
	// lists every connected peer.
	PeersTCP, PeersUTP, PeersEncrypted int
	PeerConns                          []PeerConn
}

// counters are totals for Stats that goroutines other than the loop update.
type counters struct {
	verified, failed atomic.Int64
	hits, misses     atomic.Int64
	refused          atomic.Int64 // written by Accept too
	discarded        atomic.Int64
}

// Stats returns a snapshot, taken on the loop; it fails only if ctx ends or
// the torrent is not running.
func (t *Torrent) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := t.do(ctx, func() {
		s = Stats{
			Pieces: t.info.NumPieces(), Have: t.picker.HaveCount(), Length: t.info.Length, Left: t.left.Load(),
			Downloaded: t.downloaded.Load(), Uploaded: t.uploaded.Load(),
			Peers: len(t.peers), Candidates: t.book.len(), Cancelled: t.cancelled,
			Verified: t.counters.verified.Load(), Failed: t.counters.failed.Load(),
			CacheHits: t.counters.hits.Load(), CacheMisses: t.counters.misses.Load(),
			Banned: t.bans.len(), Refused: t.counters.refused.Load(), Discarded: t.counters.discarded.Load(),
			Urgent: t.picker.Urgent(),
		}
		s.Waiting = t.demand.waiting()
		for p := range t.peers {
			s.describe(p)
			s.DownRate += p.downRate.perSec
			s.UpRate += p.upRate.perSec
			if p.has.Full() {
				s.Seeders++
			}
			if p.peerChoking {
				s.ChokingUs++
			}
			if p.amChoking {
				s.Choked++
			}
		}
		if t.announcer != nil {
			s.Tracker, s.Announcing = t.announcer.Status(), true
		}
	})
	return s, err
}

// HaveBitfield returns a copy of the pieces stored and verified, for a piece
// map. It does not go through the loop.
func (t *Torrent) HaveBitfield() bitfield.Bitfield {
	t.have.mu.RLock()
	defer t.have.mu.RUnlock()
	return t.have.bf.Clone()
}

// Readahead says where the reader stands: pos is the file offset a
// sequential read would continue from, ahead the bytes past it whose pieces
// are being fetched for it (0 before the first read and after Close).
func (r *Reader) Readahead() (pos, ahead int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ahead.end <= r.ahead.first {
		return r.next, 0
	}
	end := min(r.t.info.PieceOffset(r.ahead.end-1)+r.t.info.PieceSize(r.ahead.end-1), r.off+r.size)
	return r.next, max(0, end-(r.off+r.next))
}
