package fetch

import (
	"context"
	"slices"
)

// withdraw takes back one read's wait for piece i, when its context ended
// (an interrupt, a read timeout) or its reader closed: a read no one waits
// for any more must not keep the piece Urgent. If no other read waits for
// it, the piece drops to what is left wanting it (wanted): readahead, a
// file's head or tail, the background fill, or nothing.
//
// The blocks already asked for are not cancelled. A reader that takes
// signals (the Go runtime preempts with one, and an interrupted page fault
// is retried at once) asks for the same piece again a moment later, and
// cancelling would make every interrupt cost a round of CANCEL and REQUEST
// messages; a read given up for good costs at most the blocks in flight.
//
// It reports whether the wait had ended already (the piece is stored, or
// held in memory: held.go), so that the caller reads it instead.
// It runs on the loop whatever the reader's context says, and returns at
// once if the loop has stopped.
func (t *Torrent) withdraw(i int, w *pieceWait) (ended bool) {
	t.do(context.Background(), func() {
		ws := t.waiters[i]
		j := slices.Index(ws, w)
		if j < 0 {
			return // woken, failed, or never registered
		}
		if ws = slices.Delete(ws, j, j+1); len(ws) > 0 {
			t.waiters[i] = ws
			return
		}
		delete(t.waiters, i)
		if !t.picker.Have(i) {
			t.picker.SetPriority(i, t.wanted(i))
		}
	})
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}
