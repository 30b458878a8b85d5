package fetch

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/wait"
	"github.com/btfs/btfs/wire"
)

// Peers that connect for a moment, each to send one PEX message of 50
// made-up addresses, flood a leecher's address book; the tracker's answer
// that follows still gets in and is dialed first.
func TestPexFloodLeavesRoomForTrackerAnswers(t *testing.T) {
	mi, src := makeContent(t, 4<<20, 32<<10)
	const senders = 45
	underAttack(t, mi, src, download{
		leecherDials: true,
		attack: func(_, leecher *node) {
			junk := 0
			for range senders {
				s, _, _ := dialExtendedPeer(t, leecher, mi, wire.DefaultReserved(), map[string]int{wire.PexExtension: testPexID}, 0)
				var m wire.PexMessage
				for range wire.MaxPexPeers {
					// Nothing listens there: each dial is refused.
					m.Added = append(m.Added, wire.PexPeer{Addr: netip.AddrPortFrom(attackerIP(15, junk), 9)})
					junk++
				}
				payload, err := m.Encode()
				if err != nil {
					t.Fatal(err)
				}
				s.send(wire.Message{ID: wire.Extended, ExtendedID: pexLocalID, Payload: payload})
				s.c.Close()
				wait.For(t, "the leecher to take the PEX message and drop its sender", 10*time.Second, func() bool {
					return !connected(leecher, s.id)
				})
			}
			st, err := leecher.t.Stats(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d made-up addresses sent by %d peers; %d candidates kept", junk, senders, st.Candidates)
			if st.Candidates < maxPexCandidates {
				t.Fatalf("only %d candidates: the flood did not fill the book, the test proves nothing", st.Candidates)
			}
		},
	}, 0)
}
