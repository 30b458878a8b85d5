package metadata

import (
	"slices"

	"github.com/btfs/btfs/wire"
)

// assembly is one attempt at the metadata: which pieces are in, from whom,
// and which are asked for. It does no I/O; the fetch loop owns it.
type assembly struct {
	size int
	gen  int // this attempt's generation: requests of other ones are stale

	buf   []byte     // the metadata; made when the first piece arrives
	from  []*session // who sent each piece; nil while missing
	asked []bool     // asked of a peer in this attempt, not in yet
	have  int        // pieces in
}

func newAssembly(size, gen int) *assembly {
	n := wire.MetadataPieces(size)
	return &assembly{size: size, gen: gen, from: make([]*session, n), asked: make([]bool, n)}
}

// next returns the first piece that is neither in nor asked for, or -1.
func (a *assembly) next() int {
	for p, s := range a.from {
		if s == nil && !a.asked[p] {
			return p
		}
	}
	return -1
}

// put stores piece p's data, sent by s, and reports whether the metadata is
// complete. data has the piece's size: wire.ParseMetadataMessage checked it
// against the size every peer asked in this attempt announced.
func (a *assembly) put(p int, data []byte, s *session) bool {
	a.asked[p] = false
	if a.from[p] != nil {
		return a.complete()
	}
	if a.buf == nil {
		a.buf = make([]byte, a.size)
	}
	copy(a.buf[p*wire.MetadataPieceSize:], data)
	a.from[p] = s
	a.have++
	return a.complete()
}

func (a *assembly) complete() bool { return a.have == len(a.from) }

// contributors returns the peers that sent pieces, each once, in order of
// their first piece.
func (a *assembly) contributors() []*session {
	var out []*session
	for _, s := range a.from {
		if s != nil && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// restart begins a new attempt at the same size, keeping the buffer.
func (a *assembly) restart(gen int) {
	a.gen = gen
	clear(a.from)
	clear(a.asked)
	a.have = 0
}
