package picker

import (
	"slices"

	"github.com/btfs/btfs/internal/bitfield"
)

// SetHave marks piece i verified without downloading it (data found on disk
// or in the cache at start).
func (p *Picker) SetHave(i int) {
	if p.have.Has(i) {
		return
	}
	if p.priority[i] != None {
		p.missing--
	}
	p.have.Set(i)
	p.deactivate(i)
	delete(p.single, i)
	if p.priority[i] > Normal {
		p.removeHigh(i)
	}
}

// Forget marks piece i as no longer held (evicted from the cache): it is
// downloaded again if wanted.
func (p *Picker) Forget(i int) {
	if !p.have.Has(i) {
		return
	}
	p.have.Clear(i)
	if p.priority[i] != None {
		p.missing++
	}
	if p.priority[i] == Normal {
		p.normalDirty = true
	}
	if p.priority[i] > Normal {
		p.insertHigh(i)
	}
}

// WantAll gives every piece at least Normal priority (a full download).
func (p *Picker) WantAll() {
	for i, pr := range p.priority {
		if pr == None {
			p.SetPriority(i, Normal)
		}
	}
}

// Priority returns piece i's priority.
func (p *Picker) Priority(i int) Priority { return p.priority[i] }

// SetPriority changes piece i's priority. A piece raised above Normal goes
// after the pieces already at its priority (first asked, first served).
func (p *Picker) SetPriority(i int, pr Priority) {
	old := p.priority[i]
	if old == pr {
		return
	}
	p.priority[i] = pr
	if !p.have.Has(i) {
		switch {
		case old == None:
			p.missing++
		case pr == None:
			p.missing--
		}
	}
	if old > Normal {
		p.removeHigh(i)
	}
	if pr > Normal && !p.have.Has(i) {
		p.insertHigh(i)
	}
	// Keep started consistent: it holds only active Normal pieces.
	if _, ok := p.active[i]; ok {
		if old == Normal {
			p.started = slices.DeleteFunc(p.started, func(x int) bool { return x == i })
		}
		if pr == Normal {
			p.started = append(p.started, i)
		}
	}
	if old == Normal || pr == Normal {
		p.normalDirty = true
	}
}

// insertHigh puts piece i into the high order after the pieces of its
// priority. The order holds only pieces we lack, so that picks stay short
// however much a long stream has raised.
func (p *Picker) insertHigh(i int) {
	pr := p.priority[i]
	at := len(p.high)
	for j, x := range p.high {
		if p.priority[x] < pr {
			at = j
			break
		}
	}
	p.high = slices.Insert(p.high, at, i)
}

func (p *Picker) removeHigh(i int) {
	p.high = slices.DeleteFunc(p.high, func(x int) bool { return x == i })
}

// PeerHave records that a peer announced piece i.
func (p *Picker) PeerHave(i int) {
	p.avail[i]++
	p.noteAvailChange(1)
}

// PeerBitfield records a peer's whole bitfield (on connect).
func (p *Picker) PeerBitfield(bf bitfield.Bitfield) { p.addAvail(bf, 1) }

// PeerGone removes a departed peer's pieces from the availability counts.
func (p *Picker) PeerGone(bf bitfield.Bitfield) { p.addAvail(bf, -1) }

func (p *Picker) addAvail(bf bitfield.Bitfield, d int32) {
	for i := range p.numPieces {
		if bf.Has(i) {
			p.avail[i] += d
		}
	}
	p.noteAvailChange(resortAfter)
}

func (p *Picker) noteAvailChange(n int) {
	p.availChanges += n
	if p.availChanges >= resortAfter {
		p.availChanges = 0
		p.normalDirty = true
	}
}

// Availability returns how many known peers have piece i.
func (p *Picker) Availability(i int) int { return int(p.avail[i]) }

// Received records that block b arrived from peer. It reports the other
// peers that were asked for it (the engine cancels those requests) and
// whether the piece is now complete and ready to verify. ok is false when the
// block is not wanted (already received, or its piece is not being
// downloaded): the engine drops the data.
func (p *Picker) Received(b Block, peer int) (others []int, complete, ok bool) {
	st := p.active[b.Piece]
	if st == nil || b.Index < 0 || b.Index >= len(st.blocks) || st.blocks[b.Index].received {
		p.Unrequest(b, peer)
		return nil, false, false
	}
	bs := &st.blocks[b.Index]
	for _, q := range bs.requested[:bs.nreq] {
		if int(q) != peer {
			others = append(others, int(q))
		}
	}
	if bs.nreq == 0 {
		st.fresh-- // it came although nobody was asked any more
	}
	bs.received, bs.from, bs.nreq = true, int32(peer), 0
	st.received++
	return others, st.received == len(st.blocks), true
}

// Unrequest forgets that peer was asked for block b (it choked us, rejected
// the request, was too slow, or left): the block can be picked again.
func (p *Picker) Unrequest(b Block, peer int) {
	st := p.active[b.Piece]
	if st == nil || b.Index < 0 || b.Index >= len(st.blocks) {
		return
	}
	bs := &st.blocks[b.Index]
	if bs.forget(peer) && bs.nreq == 0 && !bs.received {
		st.fresh++
	}
}

// Reassign moves the request of block b from peer from to peer to (a late
// block a read waits for); false, and nothing changed, if b is not
// requested of from, is already requested of to, or its piece has an
// owner (rule 8).
func (p *Picker) Reassign(b Block, from, to int) bool {
	st := p.active[b.Piece]
	if st == nil || b.Index < 0 || b.Index >= len(st.blocks) {
		return false
	}
	bs := &st.blocks[b.Index]
	if st.owner != noOwner || bs.received || bs.askedOf(to) || !bs.forget(from) {
		return false // an owned piece comes from its owner alone (rule 8)
	}
	bs.ask(to)
	return true
}

// Verified records the hash check of a complete piece. On success the piece
// is ours. On failure it starts over, and the peers whose blocks made it up
// are returned, each once, so the engine can hold them to account.
func (p *Picker) Verified(i int, ok bool) (contributors []int) {
	st := p.active[i]
	if ok {
		p.SetHave(i)
		return nil
	}
	if st != nil {
		for _, bs := range st.blocks {
			if bs.received && !slices.Contains(contributors, int(bs.from)) {
				contributors = append(contributors, int(bs.from))
			}
		}
	}
	p.restart(i) // rule 6: the next download comes from one peer
	return contributors
}

// deactivate drops the download state of piece i.
func (p *Picker) deactivate(i int) {
	if _, ok := p.active[i]; !ok {
		return
	}
	delete(p.active, i)
	p.started = slices.DeleteFunc(p.started, func(x int) bool { return x == i })
}

// Senders returns, for each block of piece i, the peer whose copy was kept
// (-1 for blocks not received); nil when the piece is not being downloaded.
func (p *Picker) Senders(i int) []int {
	st := p.active[i]
	if st == nil {
		return nil
	}
	out := make([]int, len(st.blocks))
	for j, bs := range st.blocks {
		out[j] = -1
		if bs.received {
			out[j] = int(bs.from)
		}
	}
	return out
}

// SentAny reports whether peer sent a block of a piece still being
// downloaded (so it may yet be blamed for a bad piece).
func (p *Picker) SentAny(peer int) bool {
	for _, st := range p.active {
		for _, bs := range st.blocks {
			if bs.received && int(bs.from) == peer {
				return true
			}
		}
	}
	return false
}

// Active reports whether piece i is being downloaded (some block requested
// or received).
func (p *Picker) Active(i int) bool {
	_, ok := p.active[i]
	return ok
}
