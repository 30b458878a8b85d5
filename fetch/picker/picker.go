// Package picker decides which blocks to request from which peer. It is pure
// policy: no I/O, no goroutines, no locks; the engine's event loop owns a
// Picker and tells it what happens.
//
// Priority classes, highest first (the engine sets them; see fetch/demand.go and want.go):
//
//	Urgent     a read is blocked on the piece; among them, the read that
//	           started first is served first (its deadline is the oldest)
//	Readahead  ahead of an open handle's position, nearer pieces first
//	HeadTail   the first and last few MiB of an opened file, where media
//	           containers keep their header and index
//	Normal     the background: every piece, rarest first (--prefetch, btfs
//	           get), or a few pieces of the open files at a time, nearest a
//	           reader first (a mount's fill, fetch/fill.go)
//	None       not downloaded; requests in flight for a piece that falls to
//	           None (a seek left it behind) are cancelled by the engine
//
// The rules, in the order they apply when a peer can take more requests:
//
//  1. Only pieces we want (priority above None), do not have, and the peer has.
//  2. Higher priority first. Pieces above Normal are kept in an explicit
//     order: by priority, then by the order they were asked for (earliest
//     deadline first). The order holds only pieces we lack.
//  3. Within Normal priority, pieces already started come first (finishing a
//     piece makes it verifiable, servable and announceable), then rarest first
//     among the peers we know, ties broken by a per-torrent random order so
//     that peers do not all chase the same piece.
//  4. Blocks nobody has been asked for come first. When the peer has nothing
//     unrequested left that we want (endgame, or an urgent piece already
//     spread over the peers), a block of an Urgent or Normal piece already
//     requested from others may be requested again, from at most
//     MaxDuplicates peers in all; the first copy to arrive wins and the
//     engine cancels the others. Duplicates of Urgent pieces come before
//     any block of a Normal piece. Readahead and HeadTail pieces are never
//     duplicated: no read waits for them yet, and a streaming reader's
//     window, all asked for, would be asked for twice for as long as it
//     streams. PickCapped bounds the blocks of Normal pieces a peer is
//     given (a mount's background fill).
//  5. A peer whose pipeline is full may still take a few Urgent blocks
//     (PickUrgent): a blocked read does not wait for a queue to drain.
//  6. A piece that fails its hash check starts over; the peers that sent its
//     blocks are reported so the engine can judge them. Its next download
//     comes from one peer alone (single-source), so that the engine can
//     compare the blocks of the two downloads and tell who lied (smart ban),
//     or, if it fails again, blame its one sender.
//  7. A peer on parole (it sent blocks of a piece that failed) gets only
//     pieces of its own: pieces nobody else has blocks of, which then go to
//     nobody else. Its next failure names it alone; its next good piece
//     clears it (the engine decides both, see parole.go).
//  8. A piece with an owner (rules 6 and 7) is never shared: no duplicate
//     requests in endgame, no reassignment of late blocks. When the owner
//     chokes us, is snubbed or leaves, the piece starts over, still
//     single-source (Release); a banned peer's blocks are forgotten
//     wherever they are (Discard).
package picker

import (
	"math/rand/v2"

	"github.com/btfs/btfs/internal/bitfield"
)

// BlockSize is the request size every client uses (and the most others serve).
const BlockSize = 16 << 10

// MaxDuplicates bounds how many peers may be asked for the same block at
// once in endgame: enough to route around one slow peer, not so many that the
// last blocks cost several times their size.
const MaxDuplicates = 2

// resortAfter bounds how stale the rarest-first order may get: it is rebuilt
// after this many availability changes, not on each one (a busy swarm sends
// HAVE messages constantly and exact rarity is not worth a sort per message).
const resortAfter = 64

// Priority orders pieces; None is never downloaded.
type Priority uint8

// Priorities, lowest first.
const (
	None      Priority = iota
	Normal             // background: rarest first
	HeadTail           // the start and end of an opened file (container indexes live there)
	Readahead          // ahead of an open handle's read position
	Urgent             // a read is blocked on it
)

// Block identifies a request: block Index of piece Piece.
type Block struct {
	Piece int
	Index int
}

// blockState tracks one block of a piece being downloaded. Requests are
// held in a fixed array: no allocation per block.
type blockState struct {
	received  bool
	nreq      uint8
	requested [MaxDuplicates]int32 // peers asked for it and not yet answered
	from      int32                // the peer whose copy was kept
}

func (bs *blockState) askedOf(peer int) bool {
	for _, q := range bs.requested[:bs.nreq] {
		if int(q) == peer {
			return true
		}
	}
	return false
}

func (bs *blockState) ask(peer int) {
	bs.requested[bs.nreq] = int32(peer)
	bs.nreq++
}

// forget removes peer from the block's requests; false if it was not there.
func (bs *blockState) forget(peer int) bool {
	for j := 0; j < int(bs.nreq); j++ {
		if int(bs.requested[j]) == peer {
			bs.requested[j] = bs.requested[bs.nreq-1]
			bs.nreq--
			return true
		}
	}
	return false
}

// piece is the download state of a piece that has been started.
type piece struct {
	blocks   []blockState
	received int
	// fresh counts the blocks neither received nor asked of anyone, so
	// that a pick skips a piece with none in O(1) instead of scanning its
	// blocks: a fast peer's deep pipeline keeps many such pieces started.
	fresh int
	// owner is the one peer the piece comes from (rules 6-8), noOwner
	// when it may come from anyone.
	owner int
}

// Picker holds the download state of one torrent.
type Picker struct {
	pieceLength, length int64
	numPieces           int

	have     bitfield.Bitfield
	priority []Priority
	avail    []int32
	// order is a random permutation used to break ties between equally rare pieces.
	order []int32

	active  map[int]*piece // pieces with at least one block requested or received
	started []int          // the Normal pieces of active, in the order they were started

	// missing counts wanted pieces not yet verified.
	missing int

	// high holds pieces above Normal priority, in pick order.
	high []int
	// normal holds Normal pieces we do not have, rarest first (rebuilt lazily).
	normal       []int
	normalHead   int // normal[:normalHead] are all started or verified
	normalDirty  bool
	availChanges int

	// parole holds the peers that get only pieces of their own (rule 7);
	// single the pieces whose next download comes from one peer (rule 6).
	parole map[int]bool
	single map[int]bool
}

// New returns a picker for a torrent of length bytes in pieces of pieceLength.
// Nothing is wanted until SetPriority or WantAll says so. rng seeds the tie
// order (a fixed seed gives reproducible tests).
func New(pieceLength, length int64, rng *rand.Rand) *Picker {
	n := int((length + pieceLength - 1) / pieceLength)
	p := &Picker{
		pieceLength: pieceLength, length: length, numPieces: n,
		have: bitfield.New(n), priority: make([]Priority, n), avail: make([]int32, n),
		order: make([]int32, n), active: map[int]*piece{},
		parole: map[int]bool{}, single: map[int]bool{},
	}
	for i, v := range rng.Perm(n) {
		p.order[i] = int32(v)
	}
	return p
}

// NumPieces is the number of pieces.
func (p *Picker) NumPieces() int { return p.numPieces }

// NumBlocks is the number of blocks of piece i.
func (p *Picker) NumBlocks(i int) int {
	return int((p.PieceSize(i) + BlockSize - 1) / BlockSize)
}

// PieceSize is the length of piece i.
func (p *Picker) PieceSize(i int) int64 {
	return min(p.pieceLength, p.length-int64(i)*p.pieceLength)
}

// BlockBounds returns where block b starts in its piece and its length.
func (p *Picker) BlockBounds(b Block) (begin, length int64) {
	begin = int64(b.Index) * BlockSize
	return begin, min(BlockSize, p.PieceSize(b.Piece)-begin)
}

// Have reports whether piece i is verified.
func (p *Picker) Have(i int) bool { return p.have.Has(i) }

// HaveCount is the number of verified pieces.
func (p *Picker) HaveCount() int { return p.have.Count() }

// Bitfield returns a copy of what we have.
func (p *Picker) Bitfield() bitfield.Bitfield { return p.have.Clone() }

// Complete reports whether every wanted piece is verified.
func (p *Picker) Complete() bool { return p.missing == 0 }

// Missing is the number of wanted pieces not yet verified.
func (p *Picker) Missing() int { return p.missing }
