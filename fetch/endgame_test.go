package fetch

import (
	"testing"
	"time"

	"github.com/btfs/btfs/wire"
)

// When a peer chokes us or leaves with requests outstanding, the blocks go
// to the other peers at once. At the end of a download the others may have
// nothing in flight (every block already asked of MaxDuplicates peers), and
// they used to get the blocks only at the next tick, a second later.
func TestRequestsMoveAtOnceWhenAPeerStops(t *testing.T) {
	for _, how := range []string{"chokes", "leaves"} {
		t.Run(how, func(t *testing.T) {
			mi, _ := makeContent(t, 32<<10, 32<<10) // one piece of two blocks
			leecher := startNode(t, mi, t.TempDir(), false, nil)
			all := bitfieldOf(mi.Info.NumPieces(), 0)
			seeder := func() *scripted {
				p := dialScripted(t, leecher, mi, wire.DefaultReserved())
				p.send(wire.Message{ID: wire.Bitfield, Bitfield: all}, wire.Message{ID: wire.Unchoke})
				return p
			}
			a := seeder()
			a.expect(wire.Request)
			a.expect(wire.Request)
			b := seeder() // endgame: asked for both blocks again
			b.expect(wire.Request)
			b.expect(wire.Request)
			c := seeder() // nothing left to ask of it
			viewOf(t, leecher, c.id, "the third peer to be unchoked and idle",
				func(p *peer) bool { return !p.peerChoking && p.amInterested && len(p.inflight) == 0 })

			if how == "chokes" {
				a.send(wire.Message{ID: wire.Choke})
			} else {
				a.c.Close()
			}
			// A tick would also hand the blocks over, up to a second later;
			// a third of that is long enough for the loop, short enough to
			// tell the two apart most of the time.
			c.c.SetReadDeadline(time.Now().Add(tick / 3))
			c.expect(wire.Request)
		})
	}
}

// A piece that fails its hash check is asked for again at once: the peers
// that sent it have nothing else in flight at the end of a download. It is
// asked of one peer alone, so that the next copy tells who lied.
func TestFailedPieceIsRequestedAtOnce(t *testing.T) {
	mi, _ := makeContent(t, 32<<10, 32<<10) // one piece of two blocks
	leecher := startNode(t, mi, t.TempDir(), false, nil)
	all := bitfieldOf(mi.Info.NumPieces(), 0)
	var peers []*scripted
	for range 2 { // both are asked for both blocks (the second in endgame)
		p := dialScripted(t, leecher, mi, wire.DefaultReserved())
		p.send(wire.Message{ID: wire.Bitfield, Bitfield: all}, wire.Message{ID: wire.Unchoke})
		p.expect(wire.Request)
		p.expect(wire.Request)
		peers = append(peers, p)
	}
	// Each sends one block of garbage: the piece completes and fails, with
	// two senders, so neither is banned; both go on parole.
	junk := make([]byte, wire.BlockSize)
	for i, p := range peers {
		p.send(wire.Message{ID: wire.Piece, Index: 0, Begin: uint32(i * wire.BlockSize), Block: junk})
	}
	asked := make(chan int, len(peers))
	for _, p := range peers {
		go func() {
			p.c.SetReadDeadline(time.Now().Add(tick / 3))
			n := 0
			for {
				m, err := p.r.ReadMessage()
				if err != nil {
					asked <- n
					return
				}
				if !m.KeepAlive && m.ID == wire.Request {
					n++
				}
			}
		}()
	}
	a, b := <-asked, <-asked
	if min(a, b) != 0 || max(a, b) != 2 {
		t.Fatalf("the peers were asked for %d and %d blocks; want the whole piece of one of them at once", a, b)
	}
}
