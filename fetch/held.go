package fetch

import "sync"

// maxHeldBytes bounds the verified pieces kept in memory because the
// storage refused them (a full disk): a reader's largest readahead, so that
// a sequential read on a full disk gets each piece fetched once, not once
// per read of it. The latest piece is kept whatever its size.
const maxHeldBytes = DefaultMaxReadahead

// heldPieces are verified pieces the storage could not take, kept for the
// reads that want them: the reads waiting when the piece arrived, and the
// following reads of the same piece. The oldest go first. They are not
// announced to peers. Safe for concurrent use: the loop puts, readers read.
type heldPieces struct {
	mu     sync.Mutex // guards the fields below
	pieces map[int][]byte
	order  []int // oldest first
	bytes  int64
}

// put keeps a copy of piece i, given as its blocks.
func (h *heldPieces) put(i int, blocks [][]byte) {
	var n int
	for _, b := range blocks {
		n += len(b)
	}
	data := make([]byte, 0, n)
	for _, b := range blocks {
		data = append(data, b...)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pieces == nil {
		h.pieces = map[int][]byte{}
	}
	h.dropLocked(i)
	for len(h.order) > 0 && h.bytes+int64(n) > maxHeldBytes {
		h.dropLocked(h.order[0])
	}
	h.pieces[i] = data
	h.order = append(h.order, i)
	h.bytes += int64(n)
}

func (h *heldPieces) dropLocked(i int) {
	data, ok := h.pieces[i]
	if !ok {
		return
	}
	delete(h.pieces, i)
	h.bytes -= int64(len(data))
	for k, j := range h.order {
		if j == i {
			h.order = append(h.order[:k], h.order[k+1:]...)
			break
		}
	}
}

// has reports whether piece i is held.
func (h *heldPieces) has(i int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.pieces[i]
	return ok
}

// readAt fills p from piece i at off if the piece is held.
func (h *heldPieces) readAt(p []byte, i int, off int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	data, ok := h.pieces[i]
	if !ok || off < 0 || off+int64(len(p)) > int64(len(data)) {
		return false
	}
	copy(p, data[off:])
	return true
}

// drop forgets piece i (stored after all).
func (h *heldPieces) drop(i int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(i)
}
