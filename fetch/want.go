package fetch

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/btfs/btfs/fetch/picker"
)

// The loop's side of what readers want (demand.go): pieces raised and
// lowered as reads wait, readaheads move and pieces arrive, and the
// requests that follow.

// waitFor registers a read of r blocked on piece i and raises the piece to
// Urgent, unless the piece can be read already (nil). It runs on the loop.
func (t *Torrent) waitFor(r *Reader, i int) *pieceWait {
	if t.picker.Have(i) || t.held.has(i) || t.landing.has(i) {
		t.counters.hits.Add(1)
		return nil
	}
	t.counters.misses.Add(1)
	t.raise(i, picker.Urgent)
	return t.demand.wait(r, i)
}

// whyMissing says why piece i has not arrived, for the log of a read that
// gave up: the user wants to know whether the swarm is empty or merely slow.
func (t *Torrent) whyMissing(i int) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	why := "the torrent is not running"
	t.do(ctx, func() {
		holders := 0
		for p := range t.peers {
			if p.has.Has(i) {
				holders++
			}
		}
		switch {
		case len(t.peers) == 0:
			why = fmt.Sprintf("no peers connected; %d addresses known", t.book.len())
		case holders == 0:
			why = fmt.Sprintf("none of the %d connected peers has it", len(t.peers))
		default:
			why = fmt.Sprintf("%d of %d connected peers have it; still downloading", holders, len(t.peers))
		}
	})
	return why
}

// raise lifts piece i to at least pr. A piece held in memory (the
// storage refused it) is not fetched again while it is there.
func (t *Torrent) raise(i int, pr picker.Priority) {
	if t.picker.Priority(i) < pr && !t.held.has(i) {
		t.picker.SetPriority(i, pr)
	}
}

// lower drops piece i to the priority its remaining interest deserves
// (wanted), and cancels its requests in flight if nothing wants it.
func (t *Torrent) lower(i int) {
	if t.picker.Have(i) || t.held.has(i) { // a held piece is not fetched while held
		return
	}
	pr := t.wanted(i)
	t.picker.SetPriority(i, pr)
	if pr == picker.None && t.picker.Active(i) {
		t.cancelPiece(i)
	}
}

// wanted is the priority piece i's remaining interest deserves: the
// background level of the torrent, or HeadTail while an open file's head
// or tail holds it, or Readahead while a reader wants it, or Urgent while a
// read waits for it.
func (t *Torrent) wanted(i int) picker.Priority {
	pr := picker.None
	if _, fill := t.fill[i]; fill || t.cfg.WantAll {
		pr = picker.Normal
	}
	if t.demand.headTail[i] > 0 {
		pr = picker.HeadTail
	}
	if t.demand.ahead[i] > 0 {
		pr = picker.Readahead
	}
	if len(t.demand.waits[i]) > 0 {
		pr = picker.Urgent
	}
	return pr
}

// moveReadahead moves r's readahead to want: pieces it enters are raised,
// pieces no reader's readahead holds any more are lowered.
func (t *Torrent) moveReadahead(r *Reader, want pieceSpan) {
	t.demand.setAhead(r, want, t.picker.Have, t.lower)
	for i := want.first; i < want.end; i++ {
		t.raise(i, picker.Readahead)
	}
}

// claimHeadTail raises r's file's head and tail pieces, once per reader.
func (t *Torrent) claimHeadTail(r *Reader, pieces []int) {
	t.demand.claimHeadTail(r, pieces, t.picker.Have)
	for _, i := range pieces {
		t.raise(i, picker.HeadTail)
	}
}

// wake releases the reads waiting for piece i, now stored, updates the
// readers' view and serves the claims on it (demand.go).
func (t *Torrent) wake(i int) {
	t.have.set(i, true)
	t.demand.wake(i)
	t.demand.serve(i)
}

// wakeHeld releases the reads waiting for piece i, which the storage
// refused and t.held keeps, and stops fetching the piece: nothing is
// stored, so the readers' view stays as it is.
func (t *Torrent) wakeHeld(i int) {
	t.demand.wake(i)
	t.demand.serve(i)
	t.picker.SetPriority(i, picker.None)
	if t.picker.Active(i) {
		t.cancelPiece(i)
	}
}

// requestAll tops up every peer's requests after priorities changed.
// The fastest peers go first, so the blocks of pieces a read waits for go
// to them, and the slower ones get the duplicates (which lose the race).
func (t *Torrent) requestAll() {
	order := t.peerOrder[:0]
	for p := range t.peers {
		order = append(order, p)
	}
	slices.SortFunc(order, func(a, b *peer) int { return cmp.Compare(b.downRate.perSec, a.downRate.perSec) })
	for _, p := range order {
		t.updateInterestLazy(p)
		t.request(p)
	}
	clear(order)
	t.peerOrder = order[:0]
}

// updateInterestLazy becomes interested in a peer that has a wanted piece;
// losing interest is left to the periodic check.
func (t *Torrent) updateInterestLazy(p *peer) {
	if !p.amInterested {
		t.updateInterest(p)
	}
}
