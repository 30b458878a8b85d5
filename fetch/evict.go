package fetch

import (
	"context"

	"github.com/btfs/btfs/fetch/picker"
)

// Evictor is a Storage that drops pieces by itself: a size-bounded cache
// evicting the least recently used ones, or one that found a piece damaged.
// The engine forgets those pieces, so they are fetched again when wanted.
type Evictor interface {
	// Evicted is signalled after pieces were dropped; TakeEvicted then
	// says which (each one once).
	Evicted() <-chan struct{}
	TakeEvicted() []int
}

// evictedChan is the storage's eviction signal, or nil (never ready) for a
// storage that keeps what it is given.
func evictedChan(st Storage) <-chan struct{} {
	if ev, ok := st.(Evictor); ok {
		return ev.Evicted()
	}
	return nil
}

// forgetEvicted takes the pieces the storage dropped out of what we have.
// Peers were told we had them and BitTorrent has no way to take that back:
// their requests for these pieces go unanswered until we have them again,
// and are then served (peers re-request from others after a timeout).
func (t *Torrent) forgetEvicted() {
	ev, ok := t.cfg.Storage.(Evictor)
	if !ok {
		return
	}
	wanted := false
	for _, i := range ev.TakeEvicted() {
		if i < 0 || i >= t.info.NumPieces() || !t.picker.Have(i) {
			continue
		}
		t.picker.Forget(i)
		t.have.set(i, false)
		t.left.Add(t.info.PieceSize(i))
		t.lower(i)
		if t.picker.Priority(i) == picker.Normal {
			// Only the background fill wants it, and the storage could not
			// keep it: fetching it again would evict another, for ever.
			// It comes back when it is read.
			t.picker.SetPriority(i, picker.None)
			delete(t.fill, i)
		}
		wanted = wanted || t.picker.Priority(i) != picker.None
	}
	if wanted {
		t.requestAll()
	}
}

// dropped reports whether the storage dropped piece i since it was stored:
// a read of the piece failed, and the reader fetches it again if so.
func (t *Torrent) dropped(ctx context.Context, i int) bool {
	gone := false
	t.do(ctx, func() {
		t.forgetEvicted()
		gone = !t.picker.Have(i)
	})
	return gone
}
