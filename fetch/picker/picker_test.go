package picker

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/btfs/btfs/internal/bitfield"
)

const kib = 1 << 10

func newPicker(pieceLen, length int64) *Picker {
	return New(pieceLen, length, rand.New(rand.NewPCG(1, 1)))
}

func full(n int) bitfield.Bitfield {
	bf := bitfield.New(n)
	bf.SetAll()
	return bf
}

func only(n int, pieces ...int) bitfield.Bitfield {
	bf := bitfield.New(n)
	for _, i := range pieces {
		bf.Set(i)
	}
	return bf
}

func TestGeometry(t *testing.T) {
	p := newPicker(64*kib, 64*kib*3+100)
	if p.NumPieces() != 4 || p.NumBlocks(0) != 4 || p.NumBlocks(3) != 1 || p.PieceSize(3) != 100 {
		t.Fatalf("pieces %d, blocks %d/%d, last %d", p.NumPieces(), p.NumBlocks(0), p.NumBlocks(3), p.PieceSize(3))
	}
	if b, l := p.BlockBounds(Block{Piece: 3, Index: 0}); b != 0 || l != 100 {
		t.Fatalf("last block %d+%d", b, l)
	}
	if b, l := p.BlockBounds(Block{Piece: 1, Index: 2}); b != 32*kib || l != 16*kib {
		t.Fatalf("block %d+%d", b, l)
	}
}

func TestNothingWantedNothingPicked(t *testing.T) {
	p := newPicker(32*kib, 320*kib)
	if got := p.Pick(nil, 1, full(10), 10); len(got) != 0 {
		t.Fatalf("picked %v with nothing wanted", got)
	}
	if !p.Complete() {
		t.Fatal("nothing wanted should be complete")
	}
}

func TestRarestFirst(t *testing.T) {
	p := newPicker(16*kib, 16*kib*4)
	p.WantAll()
	// Pieces 0-3; availability: 0:3 peers, 1:1, 2:2, 3:2.
	p.PeerBitfield(only(4, 0, 1, 2, 3))
	p.PeerBitfield(only(4, 0, 2, 3))
	p.PeerBitfield(only(4, 0))
	got := p.Pick(nil, 7, full(4), 4)
	if len(got) != 4 || got[0].Piece != 1 || got[3].Piece != 0 {
		t.Fatalf("order %v, want piece 1 first and piece 0 last", got)
	}
}

func TestOnlyPiecesThePeerHas(t *testing.T) {
	p := newPicker(16*kib, 16*kib*4)
	p.WantAll()
	got := p.Pick(nil, 1, only(4, 2), 10)
	if len(got) != 1 || got[0].Piece != 2 {
		t.Fatalf("picked %v from a peer with only piece 2", got)
	}
}

func TestStartedPiecesFirstAndNoDuplicatesBeforeEndgame(t *testing.T) {
	p := newPicker(64*kib, 64*kib*3)
	p.WantAll()
	a := p.Pick(nil, 1, full(3), 2) // two blocks of some piece
	b := p.Pick(nil, 2, full(3), 2) // the rest of the same piece
	if a[0].Piece != b[0].Piece || b[0].Index != 2 {
		t.Fatalf("peer 2 did not continue the started piece: %v then %v", a, b)
	}
	c := p.Pick(nil, 3, full(3), 8)
	seen := map[Block]bool{}
	for _, x := range slices.Concat(a, b, c) {
		if seen[x] {
			t.Fatalf("block %v requested twice before endgame", x)
		}
		seen[x] = true
	}
	if len(c) != 8 {
		t.Fatalf("peer 3 got %d blocks, want the 8 left", len(c))
	}
}

func TestEndgameDuplicates(t *testing.T) {
	p := newPicker(32*kib, 32*kib)
	p.WantAll()
	first := p.Pick(nil, 1, full(1), 10)
	second := p.Pick(nil, 2, full(1), 10)
	third := p.Pick(nil, 3, full(1), 10)
	if len(first) != 2 || len(second) != 2 || len(third) != 0 {
		t.Fatalf("picks %v %v %v: want both blocks once more in endgame, and no third copy", first, second, third)
	}
	if again := p.Pick(nil, 1, full(1), 10); len(again) != 0 {
		t.Fatalf("peer 1 asked twice for its own blocks: %v", again)
	}
	others, complete, ok := p.Received(first[0], 2)
	if !ok || complete || !slices.Equal(others, []int{1}) {
		t.Fatalf("Received = %v, %v, %v; want peer 1 to cancel", others, complete, ok)
	}
	if _, _, ok := p.Received(first[0], 1); ok {
		t.Fatal("the late duplicate was accepted")
	}
	if _, complete, _ := p.Received(first[1], 1); !complete {
		t.Fatal("piece not complete after both blocks")
	}
}

func TestVerifiedAndFailed(t *testing.T) {
	p := newPicker(32*kib, 64*kib)
	p.WantAll()
	blocks := p.Pick(nil, 1, full(2), 1)
	rest := p.Pick(nil, 2, full(2), 1)
	p.Received(blocks[0], 1)
	_, complete, _ := p.Received(rest[0], 2)
	if !complete {
		t.Fatal("piece not complete")
	}
	piece := blocks[0].Piece
	bad := p.Verified(piece, false)
	slices.Sort(bad)
	if !slices.Equal(bad, []int{1, 2}) {
		t.Fatalf("contributors %v", bad)
	}
	if p.Have(piece) || p.Active(piece) {
		t.Fatal("failed piece kept")
	}
	again := p.Pick(nil, 3, only(2, piece), 10)
	if len(again) != 2 {
		t.Fatalf("failed piece not picked again: %v", again)
	}
	for _, b := range again {
		p.Received(b, 3)
	}
	p.Verified(piece, true)
	if !p.Have(piece) || p.Missing() != 1 || p.Complete() {
		t.Fatalf("have %v missing %d", p.Have(piece), p.Missing())
	}
}

func TestUnrequestFreesTheBlock(t *testing.T) {
	p := newPicker(16*kib, 16*kib)
	p.WantAll()
	b := p.Pick(nil, 1, full(1), 1)
	if len(p.Pick(nil, 2, full(1), 1)) != 1 { // endgame duplicate
		t.Fatal("no endgame duplicate")
	}
	p.Unrequest(b[0], 1)
	p.Unrequest(b[0], 2)
	if got := p.Pick(nil, 3, full(1), 1); len(got) != 1 {
		t.Fatalf("unrequested block not picked again: %v", got)
	}
}

func TestPriorities(t *testing.T) {
	p := newPicker(16*kib, 16*kib*10)
	p.WantAll()
	p.SetPriority(7, Readahead)
	p.SetPriority(5, Urgent)
	p.SetPriority(6, Readahead)
	p.SetPriority(2, None)
	got := p.Pick(nil, 1, full(10), 3)
	if got[0].Piece != 5 || got[1].Piece != 7 || got[2].Piece != 6 {
		t.Fatalf("order %v, want 5 (urgent) then 7, 6 (readahead, first asked first)", got)
	}
	for _, b := range p.Pick(nil, 1, full(10), 100) {
		if b.Piece == 2 {
			t.Fatal("a piece of priority None was picked")
		}
	}
	if p.Missing() != 9 {
		t.Fatalf("missing %d, want 9", p.Missing())
	}
}

func TestSetHaveAndForget(t *testing.T) {
	p := newPicker(16*kib, 16*kib*3)
	p.WantAll()
	p.SetHave(0)
	p.SetHave(1)
	if p.Missing() != 1 || p.HaveCount() != 2 {
		t.Fatalf("missing %d have %d", p.Missing(), p.HaveCount())
	}
	p.Forget(1)
	got := p.Pick(nil, 1, full(3), 10)
	if len(got) != 2 || p.Missing() != 2 {
		t.Fatalf("after Forget: picked %v, missing %d", got, p.Missing())
	}
}

func BenchmarkPick(b *testing.B) {
	const n = 20000
	p := New(256*kib, 256*kib*n, rand.New(rand.NewPCG(1, 2)))
	p.WantAll()
	peers := make([]bitfield.Bitfield, 30)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range peers {
		peers[i] = bitfield.New(n)
		for j := range n {
			if rng.IntN(2) == 0 {
				peers[i].Set(j)
			}
		}
		p.PeerBitfield(peers[i])
	}
	buf := make([]Block, 0, 64)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		peer := i % len(peers)
		buf = p.Pick(buf[:0], peer, peers[peer], 32)
		for _, blk := range buf {
			if _, complete, _ := p.Received(blk, peer); complete {
				p.Verified(blk.Piece, true)
			}
		}
		if p.Complete() {
			b.StopTimer()
			p = New(256*kib, 256*kib*n, rand.New(rand.NewPCG(1, 2)))
			p.WantAll()
			for _, bf := range peers {
				p.PeerBitfield(bf)
			}
			b.StartTimer()
		}
		i++
	}
}

// BenchmarkPickDeepPipeline is a download's steady state from a fast peer:
// hundreds of requests in flight over large pieces, one block arriving and
// one more picked at a time, so many started pieces have no block left to
// ask for.
func BenchmarkPickDeepPipeline(b *testing.B) {
	const n, depth = 1024, 500
	all := full(n)
	newP := func() *Picker {
		p := New(1<<20, n<<20, rand.New(rand.NewPCG(1, 2)))
		p.WantAll()
		p.PeerBitfield(all)
		return p
	}
	p := newP()
	queue := p.Pick(nil, 1, all, depth)
	buf := make([]Block, 0, 1)
	b.ReportAllocs()
	for b.Loop() {
		if len(queue) == 0 {
			b.StopTimer()
			p = newP()
			queue = p.Pick(queue[:0], 1, all, depth)
			b.StartTimer()
		}
		blk := queue[0]
		queue = queue[1:]
		if _, complete, _ := p.Received(blk, 1); complete {
			p.Verified(blk.Piece, true)
		}
		buf = p.Pick(buf[:0], 1, all, 1)
		queue = append(queue, buf...)
	}
}

// The count of fresh blocks a piece keeps (to skip fully asked pieces
// quickly) matches its blocks after any sequence of picks, arrivals,
// cancellations and hash results.
func TestFreshCountStaysExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	p := newPicker(64*kib, 64*kib*40+5*kib)
	p.WantAll()
	n := p.NumPieces()
	type ask struct {
		b    Block
		peer int
	}
	var asked []ask
	for step := range 5000 {
		switch op := rng.IntN(11); {
		case op < 4:
			peer := rng.IntN(4)
			for _, b := range p.Pick(nil, peer, full(n), 1+rng.IntN(6)) {
				asked = append(asked, struct {
					b    Block
					peer int
				}{b, peer})
			}
		case op < 7 && len(asked) > 0:
			k := rng.IntN(len(asked))
			a := asked[k]
			asked = slices.Delete(asked, k, k+1)
			if _, complete, ok := p.Received(a.b, a.peer); ok && complete {
				p.Verified(a.b.Piece, rng.IntN(4) != 0)
			}
		case op < 8 && len(asked) > 0:
			k := rng.IntN(len(asked))
			p.Unrequest(asked[k].b, asked[k].peer)
			asked = slices.Delete(asked, k, k+1)
		case op < 9:
			// Trust changes: parole on or off, an owner stopping, a ban.
			peer := rng.IntN(4)
			switch rng.IntN(3) {
			case 0:
				p.SetParole(peer, rng.IntN(2) == 0)
			case 1, 2:
				asked = slices.DeleteFunc(asked, func(a ask) bool {
					if a.peer == peer {
						p.Unrequest(a.b, peer)
					}
					return a.peer == peer
				})
				if rng.IntN(2) == 0 {
					p.Release(peer)
				} else {
					p.Discard(peer)
				}
			}
		default:
			// A block nobody asked for any more arrives anyway.
			i := rng.IntN(n)
			p.Received(Block{Piece: i, Index: rng.IntN(p.NumBlocks(i))}, 9)
		}
		for i, st := range p.active {
			want := 0
			for _, bs := range st.blocks {
				if !bs.received && bs.nreq == 0 {
					want++
				}
			}
			if st.fresh != want {
				t.Fatalf("step %d: piece %d counts %d fresh blocks, has %d", step, i, st.fresh, want)
			}
			for j, bs := range st.blocks {
				sole := st.owner == noOwner || bs.nreq == 0 || (bs.nreq == 1 && int(bs.requested[0]) == st.owner)
				if !sole || (bs.received && st.owner != noOwner && int(bs.from) != st.owner && bs.from != 9) {
					t.Fatalf("step %d: block %d of piece %d owned by %d involves another peer: %+v", step, j, i, st.owner, bs)
				}
			}
		}
		if p.Complete() {
			return
		}
	}
}

// PickUrgent takes only what blocked reads wait for: fresh blocks first,
// then a second copy of blocks in flight from another peer.
func TestPickUrgent(t *testing.T) {
	p := newPicker(32*kib, 32*kib*4)
	p.WantAll()
	p.SetPriority(1, Readahead)
	if p.HasUrgent() || len(p.PickUrgent(nil, 1, full(4), 10)) != 0 {
		t.Fatal("urgent picks with no blocked read")
	}
	p.SetPriority(3, Urgent)
	if !p.HasUrgent() {
		t.Fatal("HasUrgent false with piece 3 urgent")
	}
	got := p.PickUrgent(nil, 1, full(4), 10)
	if len(got) != 2 || got[0].Piece != 3 || got[1].Piece != 3 {
		t.Fatalf("peer 1 got %v, want the 2 blocks of piece 3", got)
	}
	got = p.PickUrgent(nil, 2, full(4), 10)
	if len(got) != 2 || got[0].Piece != 3 {
		t.Fatalf("peer 2 got %v, want duplicates of piece 3's blocks", got)
	}
	if got := p.PickUrgent(nil, 3, only(4, 0, 1, 2), 10); len(got) != 0 {
		t.Fatalf("a peer without piece 3 got %v", got)
	}
}

// Pieces we have leave the high order, so a long stream that raised every
// piece of a file does not slow every later pick down; a forgotten piece
// comes back with its priority.
func TestHighOrderHoldsOnlyMissingPieces(t *testing.T) {
	p := newPicker(16*kib, 16*kib*100)
	for i := range 100 {
		p.SetPriority(i, Readahead)
	}
	for i := range 99 {
		p.SetHave(i)
	}
	if len(p.high) != 1 {
		t.Fatalf("high order holds %d pieces, want 1", len(p.high))
	}
	p.Forget(5)
	if got := p.Pick(nil, 1, full(100), 2); len(got) != 2 || got[0].Piece != 99 || got[1].Piece != 5 {
		t.Fatalf("after Forget(5): picked %v, want piece 99 then 5", got)
	}
}

func TestReassign(t *testing.T) {
	p := newPicker(32*kib, 32*kib)
	p.SetPriority(0, Urgent)
	got := p.Pick(nil, 1, full(1), 1)
	b := got[0]
	if p.Reassign(b, 2, 3) {
		t.Fatal("moved a request peer 2 never had")
	}
	if !p.Reassign(b, 1, 2) || p.Reassign(b, 1, 2) {
		t.Fatal("Reassign 1->2 must work once")
	}
	if _, _, ok := p.Received(b, 2); !ok {
		t.Fatal("the block from its new peer was not accepted")
	}
	if p.Reassign(b, 2, 3) {
		t.Fatal("moved a block already received")
	}
}

// A reader's readahead (or a file's head and tail) is asked of one peer
// per block: duplicates cost the peers' upload for a block nobody waits
// for. Once a read is blocked on the piece (Urgent), it may be duplicated.
func TestNoDuplicatesBelowUrgent(t *testing.T) {
	for _, pr := range []Priority{HeadTail, Readahead} {
		p := newPicker(32*kib, 32*kib)
		p.SetPriority(0, pr)
		if first := p.Pick(nil, 1, full(1), 10); len(first) != 2 {
			t.Fatalf("priority %d: peer 1 got %v, want both blocks", pr, first)
		}
		if second := p.Pick(nil, 2, full(1), 10); len(second) != 0 {
			t.Fatalf("priority %d: peer 2 got duplicates %v of a piece no read waits for", pr, second)
		}
		p.SetPriority(0, Urgent)
		if second := p.Pick(nil, 2, full(1), 10); len(second) != 2 {
			t.Fatalf("priority %d raised to Urgent: peer 2 got %v, want duplicates of both blocks", pr, second)
		}
	}
}

// PickCapped gives a peer at most maxNormal blocks of Normal pieces, and
// never lets the cap hold back what is above Normal.
func TestPickCapped(t *testing.T) {
	p := newPicker(32*kib, 4*32*kib) // 4 pieces of 2 blocks
	p.SetPriority(0, Urgent)
	p.SetPriority(1, Readahead)
	p.SetPriority(2, Normal)
	p.SetPriority(3, Normal)
	got := p.PickCapped(nil, 1, full(4), 10, 1)
	var normal, high int
	for _, b := range got {
		if b.Piece >= 2 {
			normal++
		} else {
			high++
		}
	}
	if high != 4 || normal != 1 {
		t.Fatalf("picked %v: %d above Normal (want 4), %d Normal (want 1)", got, high, normal)
	}
	// Another peer: the Urgent piece's duplicates first, then at most one
	// Normal block.
	got = p.PickCapped(nil, 2, full(4), 3, 1)
	if len(got) != 3 || got[0].Piece != 0 || got[1].Piece != 0 || got[2].Piece < 2 {
		t.Fatalf("second peer got %v; want piece 0's two blocks again, then one Normal block", got)
	}
	if got := p.PickCapped(nil, 3, full(4), 10, 0); len(got) != 0 {
		t.Fatalf("a cap of 0 with nothing above Normal left: %v", got)
	}
}
