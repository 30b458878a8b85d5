package picker

import (
	"slices"

	"github.com/btfs/btfs/internal/bitfield"
)

// Pick appends to dst up to max blocks to request from peer, which has the
// pieces in peerHas, following the rules in the package comment.
func (p *Picker) Pick(dst []Block, peer int, peerHas bitfield.Bitfield, max int) []Block {
	return p.PickCapped(dst, peer, peerHas, max, max)
}

// PickCapped is Pick taking at most maxNormal blocks of Normal pieces: the
// background's share of a peer's pipeline, which a mount keeps small so
// that a block a read waits for never queues behind much of it.
func (p *Picker) PickCapped(dst []Block, peer int, peerHas bitfield.Bitfield, max, maxNormal int) []Block {
	if max <= 0 {
		return dst
	}
	want := len(dst) + max
	canUse := func(i int) bool { return !p.have.Has(i) && p.priority[i] != None && peerHas.Has(i) }

	// Rule 2: pieces above Normal, in their explicit order.
	for _, i := range p.high {
		if canUse(i) {
			if dst = p.takeFresh(dst, i, peer, want); len(dst) == want {
				return dst
			}
		}
	}
	// Rule 4 for Urgent pieces: duplicates of what is in flight, before
	// anything of lower priority. Readahead and head and tail pieces are
	// not duplicated: no read waits for them yet, and a reader's window,
	// all asked for, would otherwise be asked for twice for as long as it
	// streams, each copy taking the place of a block the peer could send
	// instead (the one that loses the race is wasted).
	for _, i := range p.high {
		if p.priority[i] != Urgent {
			break // the order keeps Urgent pieces first
		}
		if canUse(i) {
			if dst = p.takeDuplicates(dst, i, peer, want); len(dst) == want {
				return dst
			}
		}
	}
	want = min(want, len(dst)+maxNormal)
	if len(dst) == want {
		return dst
	}
	// Rule 3: started Normal pieces, then the rest rarest first.
	for _, i := range p.started {
		if canUse(i) {
			if dst = p.takeFresh(dst, i, peer, want); len(dst) == want {
				return dst
			}
		}
	}
	if p.normalDirty {
		p.rebuildNormal()
	}
	// Pieces leave the Normal order only by starting or being verified (a
	// failed piece or a priority change rebuilds it), so a prefix of spent
	// entries can be skipped for good.
	for p.normalHead < len(p.normal) && p.spent(p.normal[p.normalHead]) {
		p.normalHead++
	}
	for _, i := range p.normal[p.normalHead:] {
		if p.spent(i) || !peerHas.Has(i) {
			continue
		}
		if dst = p.takeFresh(dst, i, peer, want); len(dst) == want {
			return dst
		}
	}
	// Rule 4, endgame of the Normal pieces: duplicates of what is in flight.
	for _, i := range p.started {
		if canUse(i) {
			if dst = p.takeDuplicates(dst, i, peer, want); len(dst) == want {
				return dst
			}
		}
	}
	return dst
}

// PickUrgent is Pick limited to the Urgent pieces, blocks nobody was asked
// for first, then duplicates (rule 4): what a peer whose pipeline is full
// may still be asked for, because a read is blocked on it.
func (p *Picker) PickUrgent(dst []Block, peer int, peerHas bitfield.Bitfield, max int) []Block {
	if max <= 0 {
		return dst
	}
	want := len(dst) + max
	for _, take := range []func([]Block, int, int, int) []Block{p.takeFresh, p.takeDuplicates} {
		for _, i := range p.high {
			if p.priority[i] != Urgent {
				break // the order keeps Urgent pieces first
			}
			if peerHas.Has(i) {
				if dst = take(dst, i, peer, want); len(dst) == want {
					return dst
				}
			}
		}
	}
	return dst
}

// HasUrgent reports whether a read is blocked on a piece we lack.
func (p *Picker) HasUrgent() bool { return len(p.high) > 0 && p.priority[p.high[0]] == Urgent }

// Urgent counts the Urgent pieces we lack (the order keeps them first).
func (p *Picker) Urgent() int {
	n := 0
	for n < len(p.high) && p.priority[p.high[n]] == Urgent {
		n++
	}
	return n
}

// takeFresh appends the blocks of piece i that nobody has been asked for.
func (p *Picker) takeFresh(dst []Block, i, peer, want int) []Block {
	if st := p.active[i]; st != nil && !p.mayJoin(st, peer) {
		return dst
	}
	st := p.activate(i, peer)
	for j := 0; st.fresh > 0 && j < len(st.blocks); j++ {
		bs := &st.blocks[j]
		if bs.received || bs.nreq > 0 {
			continue
		}
		bs.ask(peer)
		st.fresh--
		if dst = append(dst, Block{Piece: i, Index: j}); len(dst) == want {
			break
		}
	}
	return dst
}

// takeDuplicates appends blocks of piece i in flight from other peers.
func (p *Picker) takeDuplicates(dst []Block, i, peer, want int) []Block {
	st := p.active[i]
	if st == nil || st.owner != noOwner { // an owned piece is never shared (rule 8)
		return dst
	}
	if p.parole[peer] { // rule 7: only pieces of its own
		return dst
	}
	for j := range st.blocks {
		bs := &st.blocks[j]
		if bs.received || bs.nreq >= MaxDuplicates || bs.askedOf(peer) {
			continue
		}
		bs.ask(peer)
		if dst = append(dst, Block{Piece: i, Index: j}); len(dst) == want {
			break
		}
	}
	return dst
}

// activate returns the download state of piece i, creating it for peer:
// the piece is peer's alone if peer is on parole or the piece is
// single-source.
func (p *Picker) activate(i, peer int) *piece {
	if st := p.active[i]; st != nil {
		return st
	}
	st := &piece{blocks: make([]blockState, p.NumBlocks(i)), fresh: p.NumBlocks(i), owner: noOwner}
	if p.parole[peer] || p.single[i] {
		st.owner = peer
		delete(p.single, i)
	}
	p.active[i] = st
	if p.priority[i] == Normal {
		p.started = append(p.started, i)
	}
	return st
}

// spent reports whether a piece of the Normal order needs no fresh pick.
func (p *Picker) spent(i int) bool {
	_, started := p.active[i]
	return started || p.have.Has(i) || p.priority[i] != Normal
}

// rebuildNormal sorts the Normal pieces we lack, rarest first.
func (p *Picker) rebuildNormal() {
	p.normal, p.normalHead = p.normal[:0], 0
	for i, pr := range p.priority {
		if pr == Normal && !p.have.Has(i) {
			p.normal = append(p.normal, i)
		}
	}
	slices.SortFunc(p.normal, func(a, b int) int {
		if p.avail[a] != p.avail[b] {
			return int(p.avail[a] - p.avail[b])
		}
		return int(p.order[a] - p.order[b])
	})
	p.normalDirty = false
}
