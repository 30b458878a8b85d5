package fetch

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

// viewOf waits until cond holds for what n's loop knows of the peer with id
// (polling the loop), and fails the test after 10 s, saying what it waited for.
func viewOf(t *testing.T, n *node, id wire.PeerID, what string, cond func(p *peer) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := false
		n.t.do(context.Background(), func() {
			if p := n.t.byID[id]; p != nil {
				ok = cond(p)
			}
		})
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A leecher that completes tells every peer it is not interested any more,
// the ones that keep it choked too, so that they do not count it among the
// peers waiting for their upload slots. Interest was re-examined only when
// a peer's requests ran dry, which never happens with a peer that chokes us.
func TestNotInterestedOnceComplete(t *testing.T) {
	mi, src := makeContent(t, 1<<20, 32<<10)
	leecher := startNode(t, mi, t.TempDir(), false, nil)
	choker := dialScripted(t, leecher, mi, wire.DefaultReserved())
	choker.send(wire.Message{ID: wire.Bitfield, Bitfield: bitfieldOf(mi.Info.NumPieces(), allPieces(mi)...)})
	choker.expect(wire.Interested)

	seeder := startNode(t, mi, src, true, nil)
	leecher.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
	waitDone(t, leecher, 30*time.Second)
	choker.expect(wire.NotInterested)
}

func allPieces(mi *metainfo.MetaInfo) []int {
	all := make([]int, mi.Info.NumPieces())
	for i := range all {
		all[i] = i
	}
	return all
}

// When an unchoked peer loses interest or leaves, its upload slot goes at
// once to a peer that is waiting, instead of at the next choke round, up to
// ten seconds later.
func TestFreedUploadSlotGoesToWaitingPeer(t *testing.T) {
	mi, src := makeContent(t, 256<<10, 32<<10)
	// One regular slot and the optimistic one: two peers unchoked at most.
	seeder := startNode(t, mi, src, true, func(c *Config) { c.UnchokeSlots = 1 })
	interested := wire.Message{ID: wire.Interested}
	a := dialScripted(t, seeder, mi, wire.DefaultReserved())
	a.send(interested)
	a.expect(wire.Unchoke)
	b := dialScripted(t, seeder, mi, wire.DefaultReserved())
	b.send(interested)
	b.expect(wire.Unchoke)

	waiting := func() *scripted {
		p := dialScripted(t, seeder, mi, wire.DefaultReserved())
		p.send(interested)
		viewOf(t, seeder, p.id, "a third peer to wait, interested and choked",
			func(q *peer) bool { return q.peerInterested && q.amChoking })
		return p
	}
	// promptly fails unless p is unchoked well before a choke round would
	// have come (RoundInterval); the slot is given at once.
	promptly := func(p *scripted, after string) {
		t.Helper()
		p.c.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			m, err := p.r.ReadMessage()
			if err != nil {
				t.Fatalf("the waiting peer was not unchoked within 2 s after %s (%v)", after, err)
			}
			if m.ID == wire.Unchoke && !m.KeepAlive {
				return
			}
		}
	}

	c := waiting()
	a.send(wire.Message{ID: wire.NotInterested})
	promptly(c, "an unchoked peer lost interest")

	d := waiting()
	b.c.Close()
	promptly(d, "an unchoked peer left")
}
