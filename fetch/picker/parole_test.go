package picker

import (
	"slices"
	"testing"
)

// pieces lists the distinct pieces of blocks, in order of first appearance.
func pieces(blocks []Block) []int {
	var out []int
	for _, b := range blocks {
		if !slices.Contains(out, b.Piece) {
			out = append(out, b.Piece)
		}
	}
	return out
}

// A peer on parole is given only pieces nobody else has a block of, and
// nobody else is given blocks of its pieces, not even in endgame.
func TestParoleGetsPiecesOfItsOwn(t *testing.T) {
	p := newPicker(64*kib, 64*kib*3) // 3 pieces of 4 blocks
	p.WantAll()
	shared := p.Pick(nil, 1, full(3), 2) // peer 1 starts a piece
	p.SetParole(2, true)
	got := p.Pick(nil, 2, full(3), 10)
	if len(got) != 8 || slices.Contains(pieces(got), shared[0].Piece) {
		t.Fatalf("peer on parole got %v; want the two untouched pieces whole", got)
	}
	for _, i := range pieces(got) {
		if owner, ok := p.Owner(i); !ok || owner != 2 {
			t.Fatalf("piece %d: owner %d, %v; want peer 2", i, owner, ok)
		}
	}
	// Peer 3 finishes peer 1's piece and may duplicate its blocks, but
	// never touches peer 2's.
	for _, b := range p.Pick(nil, 3, full(3), 20) {
		if b.Piece != shared[0].Piece {
			t.Fatalf("peer 3 was given %v of a piece owned by the peer on parole", b)
		}
	}
	if p.Reassign(got[0], 2, 3) {
		t.Fatal("a block of an owned piece was reassigned")
	}
	// Off parole, peer 2 may join shared pieces again.
	p.SetParole(2, false)
	if again := p.Pick(nil, 2, full(3), 10); len(again) == 0 || again[0].Piece != shared[0].Piece {
		t.Fatalf("peer 2 off parole got %v; want duplicates of the shared piece", again)
	}
}

// A piece that failed comes from one peer next time, whoever asks first.
func TestFailedPieceIsSingleSource(t *testing.T) {
	p := newPicker(64*kib, 64*kib) // 1 piece of 4 blocks
	p.WantAll()
	a := p.Pick(nil, 1, full(1), 2)
	b := p.Pick(nil, 2, full(1), 2)
	for _, x := range a {
		p.Received(x, 1)
	}
	for _, x := range b {
		p.Received(x, 2)
	}
	if bad := p.Verified(0, false); len(bad) != 2 {
		t.Fatalf("contributors %v", bad)
	}
	if !p.Single(0) {
		t.Fatal("a failed piece is not single-source")
	}
	if got := p.Pick(nil, 2, full(1), 2); len(got) != 2 {
		t.Fatalf("first asker got %v", got)
	}
	if got := p.Pick(nil, 1, full(1), 10); len(got) != 0 {
		t.Fatalf("a second peer was given %v of a single-source piece", got)
	}
	if got := p.Pick(nil, 2, full(1), 10); len(got) != 2 {
		t.Fatalf("the owner was not given the rest: %v", got)
	}
}

// When the owner stops, its piece starts over, still single-source, and
// its blocks are handed back to be freed.
func TestReleaseStartsOwnedPiecesOver(t *testing.T) {
	p := newPicker(64*kib, 64*kib*2)
	p.WantAll()
	p.SetParole(1, true)
	got := p.Pick(nil, 1, full(2), 4) // one whole piece
	p.Received(got[0], 1)
	p.Received(got[1], 1)
	for _, b := range got[2:] {
		p.Unrequest(b, 1)
	}
	dropped := p.Release(1)
	if len(dropped) != 2 || p.Active(got[0].Piece) || !p.Single(got[0].Piece) {
		t.Fatalf("dropped %v, active %v, single %v", dropped, p.Active(got[0].Piece), p.Single(got[0].Piece))
	}
	p.SetParole(1, false)
	if again := p.Pick(nil, 2, only(2, got[0].Piece), 10); len(again) != 4 {
		t.Fatalf("the released piece was not picked again whole: %v", again)
	}
}

// A banned peer's blocks are forgotten in shared pieces too; the blocks
// of others stay.
func TestDiscardForgetsABannedPeersBlocks(t *testing.T) {
	p := newPicker(64*kib, 64*kib)
	p.WantAll()
	a := p.Pick(nil, 1, full(1), 2)
	b := p.Pick(nil, 2, full(1), 2)
	for _, x := range a {
		p.Received(x, 1)
	}
	p.Received(b[0], 2)
	dropped := p.Discard(1)
	if !slices.Equal(dropped, a) {
		t.Fatalf("dropped %v, want %v", dropped, a)
	}
	if slices.Contains(p.Senders(0), 1) {
		t.Fatalf("senders still name the banned peer: %v", p.Senders(0))
	}
	if got := p.Pick(nil, 3, full(1), 2); !slices.Equal(got, a) {
		t.Fatalf("the discarded blocks were not picked again: %v", got)
	}
}
