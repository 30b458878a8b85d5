package fetch

import "context"

// withdraw takes back the waits of reads that gave up: their context ended
// (an interrupt, a read timeout) or their reader closed. A read no one
// waits for any more must not keep its piece Urgent: if no other read
// waits for it, the piece drops to what is left wanting it (wanted):
// readahead, a file's head or tail, the background fill, or nothing.
//
// The blocks already asked for are not cancelled. A reader that takes
// signals (the Go runtime preempts with one, and an interrupted page fault
// is retried at once) asks for the same piece again a moment later, and
// cancelling would make every interrupt cost a round of CANCEL and REQUEST
// messages; a read given up for good costs at most the blocks in flight.
//
// It reports whether every wait had ended already (the piece is stored,
// landing or held), so that a caller with one wait reads the piece
// instead. It runs on the loop whatever the reader's context says, and
// returns at once if the loop has stopped. Nil waits are skipped.
func (t *Torrent) withdraw(ws ...*pieceWait) (ended bool) {
	t.do(context.Background(), func() {
		for _, w := range ws {
			if w == nil {
				continue
			}
			i, ok := t.demand.withdraw(w)
			if ok && len(t.demand.waits[i]) == 0 && !t.picker.Have(i) {
				t.picker.SetPriority(i, t.wanted(i))
			}
		}
	})
	for _, w := range ws {
		if w == nil {
			continue
		}
		select {
		case <-w.done:
		default:
			return false
		}
	}
	return true
}
