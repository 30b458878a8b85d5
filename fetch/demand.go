package fetch

// demand is what the readers of a torrent want, with one owner: the loop.
// It holds the reads blocked on a piece, and each reader's claims: its
// readahead window and its file's head and tail. Claims are sets per
// reader; the counts per piece are derived from them (a count is the
// number of readers whose set holds the piece, unserved), changed only
// when a set is, so that nothing (a piece arriving, an eviction, a reader
// moving on late) can take a count below zero or drop a claim another
// reader holds.
//
// A claim is served once: when its piece is stored (or held in memory), or
// if it is stored when the claim is made, the claim no longer counts, and a
// later eviction of the piece does not make it wanted again; a read of it
// does, or a claim made while it is missing. Else claims larger than a
// small cache would fetch and evict each other for ever.
type demand struct {
	readers  map[*Reader]*readerClaims
	waits    map[int][]*pieceWait // reads blocked on a piece, oldest first
	ahead    map[int]int          // readers whose readahead holds a piece, unserved
	headTail map[int]int          // readers whose head or tail holds a piece, unserved
}

// readerClaims is one reader's part of the demand.
type readerClaims struct {
	ahead    pieceSpan
	served   map[int]struct{}   // pieces of ahead whose claim was served
	headTail map[int]struct{}   // head and tail pieces not served yet
	claimed  bool               // the head and tail were claimed (once per reader)
	waits    map[*pieceWait]int // the reader's blocked reads, and their piece
	pos      int                // the piece of its last read that came to the loop
	// The background fill's cursors (fill.go): the next piece to look at
	// ahead of pos, and behind it.
	fillAhead, fillBehind int
}

// pieceWait is a read blocked on a piece: done is closed when the piece can
// be read (stored, landing or held).
type pieceWait struct {
	done   chan struct{}
	reader *Reader
}

func newDemand() demand {
	return demand{readers: map[*Reader]*readerClaims{}, waits: map[int][]*pieceWait{},
		ahead: map[int]int{}, headTail: map[int]int{}}
}

func (d *demand) of(r *Reader) *readerClaims {
	c := d.readers[r]
	if c == nil {
		c = &readerClaims{served: map[int]struct{}{}, headTail: map[int]struct{}{}, waits: map[*pieceWait]int{}}
		d.readers[r] = c
	}
	return c
}

// setAhead moves r's readahead to want, calling dropped for each piece no
// reader's readahead holds any more. Pieces that are had (had) are served
// as they enter.
func (d *demand) setAhead(r *Reader, want pieceSpan, had func(int) bool, dropped func(int)) {
	c := d.of(r)
	old := c.ahead
	c.ahead = want
	want.minus(old, func(i int) {
		if had(i) {
			c.served[i] = struct{}{}
		} else {
			d.ahead[i]++
		}
	})
	old.minus(want, func(i int) {
		if _, ok := c.served[i]; ok {
			delete(c.served, i)
		} else {
			d.decr(d.ahead, i, dropped)
		}
	})
}

// minus calls f for each piece of s not in o: a sequential reader's
// readahead moves a piece or two at a time, and only those are visited,
// whatever the window's length.
func (s pieceSpan) minus(o pieceSpan, f func(int)) {
	if o.first >= o.end {
		o = pieceSpan{s.end, s.end}
	}
	for i := s.first; i < min(s.end, o.first); i++ {
		f(i)
	}
	for i := max(s.first, o.end); i < s.end; i++ {
		f(i)
	}
}

// claimHeadTail records r's head and tail pieces, those not had; a reader
// claims them once.
func (d *demand) claimHeadTail(r *Reader, pieces []int, had func(int) bool) {
	c := d.of(r)
	if c.claimed {
		return
	}
	c.claimed = true
	for _, i := range pieces {
		if !had(i) {
			c.headTail[i] = struct{}{}
			d.headTail[i]++
		}
	}
}

// serve marks every claim on piece i served: it is stored, or held.
func (d *demand) serve(i int) {
	for _, c := range d.readers {
		if _, ok := c.served[i]; c.ahead.has(i) && !ok {
			c.served[i] = struct{}{}
			d.decr(d.ahead, i, nil)
		}
		if _, ok := c.headTail[i]; ok {
			delete(c.headTail, i)
			d.decr(d.headTail, i, nil)
		}
	}
}

// wait registers a read of r blocked on piece i.
func (d *demand) wait(r *Reader, i int) *pieceWait {
	w := &pieceWait{done: make(chan struct{}), reader: r}
	d.waits[i] = append(d.waits[i], w)
	d.of(r).waits[w] = i
	return w
}

// wake ends the waits on piece i; it reports whether there were any.
func (d *demand) wake(i int) bool {
	ws := d.waits[i]
	for _, w := range ws {
		close(w.done)
		if c := d.readers[w.reader]; c != nil {
			delete(c.waits, w)
		}
	}
	delete(d.waits, i)
	return len(ws) > 0
}

// withdraw takes back the wait w; it reports the piece, and whether w was
// still waiting (not woken, not withdrawn before).
func (d *demand) withdraw(w *pieceWait) (piece int, ok bool) {
	c := d.readers[w.reader]
	if c == nil {
		return 0, false
	}
	i, ok := c.waits[w]
	if !ok {
		return 0, false
	}
	delete(c.waits, w)
	ws := d.waits[i]
	for k, x := range ws {
		if x == w {
			ws = append(ws[:k], ws[k+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(d.waits, i)
	} else {
		d.waits[i] = ws
	}
	return i, true
}

// release drops all of r's claims and waits (its reads end by themselves:
// the reader is closed), calling dropped for each piece that loses a claim
// or wait.
func (d *demand) release(r *Reader, dropped func(int)) {
	c := d.readers[r]
	if c == nil {
		return
	}
	for w := range c.waits {
		if i, ok := d.withdraw(w); ok {
			dropped(i)
		}
	}
	d.setAhead(r, pieceSpan{}, nil, dropped)
	for i := range c.headTail {
		d.decr(d.headTail, i, dropped)
	}
	delete(d.readers, r)
}

// decr drops one reader's claim on piece i in counts, calling dropped (if
// any) when it was the last.
func (d *demand) decr(counts map[int]int, i int, dropped func(int)) {
	if counts[i]--; counts[i] <= 0 {
		delete(counts, i)
		if dropped != nil {
			dropped(i)
		}
	}
}

// waiting counts the blocked reads.
func (d *demand) waiting() int {
	n := 0
	for _, ws := range d.waits {
		n += len(ws)
	}
	return n
}

func (s pieceSpan) has(i int) bool { return i >= s.first && i < s.end }
