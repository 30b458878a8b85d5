package picker

// Pieces with one source (rules 6-8 of the package comment): what lets the
// engine attribute a failed piece to the peer that sent it.

// noOwner marks a piece that any peer may send blocks of.
const noOwner = -1

// mayJoin reports whether peer may be asked for blocks of the started
// piece st: its own piece, or anyone's piece if peer is not on parole.
func (p *Picker) mayJoin(st *piece, peer int) bool {
	if st.owner != noOwner {
		return st.owner == peer
	}
	return !p.parole[peer]
}

// SetParole puts peer on parole or takes it off: on parole it gets only
// pieces of its own (rule 7). Pieces it already shares are left as they are.
func (p *Picker) SetParole(peer int, on bool) {
	if on {
		p.parole[peer] = true
	} else {
		delete(p.parole, peer)
	}
}

// Owner returns the peer that piece i comes from alone, and false if the
// piece is not being downloaded or may come from anyone.
func (p *Picker) Owner(i int) (int, bool) {
	st := p.active[i]
	if st == nil || st.owner == noOwner {
		return 0, false
	}
	return st.owner, true
}

// Single reports whether piece i's next download will come from one peer
// (it failed before, or its owner let it go).
func (p *Picker) Single(i int) bool { return p.single[i] }

// Release starts over every piece that peer owns, because it choked us,
// was snubbed or left: its blocks of them are dropped (the engine frees
// them), and each piece stays single-source for its next download. The
// engine unrequests the peer's blocks in flight first. A complete piece
// is left to its hash check, here and in Discard.
func (p *Picker) Release(peer int) (dropped []Block) {
	for i, st := range p.active {
		if st.owner != peer || st.received == len(st.blocks) {
			continue
		}
		for j, bs := range st.blocks {
			if bs.received {
				dropped = append(dropped, Block{Piece: i, Index: j})
			}
		}
		p.restart(i)
	}
	return dropped
}

// Discard forgets the blocks peer sent of pieces still being downloaded
// (it was banned: nothing it sent is trusted), and releases the pieces it
// owns. It returns the blocks dropped, for the engine to free.
func (p *Picker) Discard(peer int) (dropped []Block) {
	dropped = p.Release(peer)
	for i, st := range p.active {
		if st.received == len(st.blocks) {
			continue
		}
		for j := range st.blocks {
			bs := &st.blocks[j]
			if !bs.received || int(bs.from) != peer {
				continue
			}
			bs.received = false
			st.received--
			if bs.nreq == 0 {
				st.fresh++
			}
			dropped = append(dropped, Block{Piece: i, Index: j})
		}
	}
	return dropped
}

// restart drops the download state of piece i and makes its next download
// single-source.
func (p *Picker) restart(i int) {
	p.deactivate(i)
	p.single[i] = true
	if p.priority[i] == Normal {
		p.normalDirty = true
	}
}
