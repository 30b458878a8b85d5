package fetch

// demand is what the readers of a torrent want, with one owner: the loop.
// It holds the reads blocked on a piece, and each reader's claims: its
// readahead window and its file's head and tail. Claims are sets per
// reader; the counts per piece are derived from them (a count is the
// number of readers whose set holds the piece), changed only when a set
// is, so that nothing else (a piece arriving, an eviction, a reader
// releasing late) can take a count below zero or drop a claim another
// reader holds.
type demand struct {
	readers  map[*Reader]*readerClaims
	waits    map[int][]*pieceWait // reads blocked on a piece, oldest first
	ahead    map[int]int          // readers whose readahead holds a piece
	headTail map[int]int          // readers whose head or tail holds a piece
}

// readerClaims is one reader's part of the demand.
type readerClaims struct {
	ahead    pieceSpan
	headTail []int
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
		c = &readerClaims{waits: map[*pieceWait]int{}}
		d.readers[r] = c
	}
	return c
}

// setAhead moves r's readahead to want, calling dropped for each piece no
// reader's readahead holds any more.
func (d *demand) setAhead(r *Reader, want pieceSpan, dropped func(int)) {
	c := d.of(r)
	old := c.ahead
	c.ahead = want
	for i := want.first; i < want.end; i++ {
		if !old.has(i) {
			d.ahead[i]++
		}
	}
	for i := old.first; i < old.end; i++ {
		if !want.has(i) {
			d.decr(d.ahead, i, dropped)
		}
	}
}

// claimHeadTail records r's head and tail pieces; a reader claims them once.
func (d *demand) claimHeadTail(r *Reader, pieces []int) {
	c := d.of(r)
	if c.headTail != nil {
		return
	}
	c.headTail = append([]int{}, pieces...)
	for _, i := range pieces {
		d.headTail[i]++
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
	d.setAhead(r, pieceSpan{}, dropped)
	for _, i := range c.headTail {
		d.decr(d.headTail, i, dropped)
	}
	delete(d.readers, r)
}

// decr drops one reader's claim on piece i in counts.
func (d *demand) decr(counts map[int]int, i int, dropped func(int)) {
	if counts[i]--; counts[i] <= 0 {
		delete(counts, i)
		dropped(i)
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
