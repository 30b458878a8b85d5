package fetch

import (
	"context"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/wait"
)

// Idle peers, which handshake and then send only keep-alives, connect to
// a leecher until it refuses them. The leecher can still dial the seeder
// a tracker names: incoming connections cannot take the slots kept for
// dials.
func TestIdleFloodLeavesSlotsForDials(t *testing.T) {
	mi, src := makeContent(t, 4<<20, 32<<10)
	underAttack(t, mi, src, download{
		leecherDials: true,
		attack: func(_, leecher *node) {
			kept := newAttackers(t, mi).idleIn(leecher.addr, DefaultMaxPeers)
			t.Logf("%d of %d idle peers kept by the leecher", kept, DefaultMaxPeers)
			if kept < DefaultMaxPeers-DefaultMaxPeers/outgoingShare {
				t.Fatalf("only %d idle peers got in: the test proves nothing", kept)
			}
		},
	}, 0)
}

// Idle peers connect to a seeder until it refuses them; an honest leecher
// that connects later takes the slot of one that has sent no data. Once
// the download is over the idle peers, and the leecher (a seed now too),
// are dropped for want of use.
func TestIdleFloodOnSeederIsReplaced(t *testing.T) {
	mi, src := makeContent(t, 4<<20, 32<<10)
	var seederNode *node
	underAttack(t, mi, src, download{
		seeder: idleAfter(4 * time.Second), leecherDials: true,
		attack: func(seeder, _ *node) {
			seederNode = seeder
			kept := newAttackers(t, mi).idleIn(seeder.addr, DefaultMaxPeers)
			t.Logf("%d of %d idle peers kept by the seeder", kept, DefaultMaxPeers)
			if kept < DefaultMaxPeers-DefaultMaxPeers/outgoingShare {
				t.Fatalf("only %d idle peers got in: the test proves nothing", kept)
			}
			wait.For(t, "the idle peers to be replaceable", 10*time.Second, func() bool { return replaceable(seeder) })
		},
	}, 0)
	wait.For(t, "the seeder to drop its idle peers", 20*time.Second, func() bool {
		s, err := seederNode.t.Stats(context.Background())
		return err == nil && s.Peers == 0
	})
}

// A tracker names idle peers first, and the leecher fills every slot with
// them; when it hears of the seeder, an idle peer makes room for it.
func TestIdleDialedPeersAreTurnedOver(t *testing.T) {
	mi, src := makeContent(t, 4<<20, 32<<10)
	underAttack(t, mi, src, download{
		leecher: idleAfter(8 * time.Second), leecherDials: true,
		attack: func(_, leecher *node) {
			idle := newAttackers(t, mi).idleListeners(DefaultMaxPeers)
			leecher.t.AddPeers(context.Background(), idle)
			wait.For(t, "the leecher to fill its slots with idle peers", 30*time.Second, func() bool {
				s, err := leecher.t.Stats(context.Background())
				return err == nil && s.Peers == DefaultMaxPeers
			})
		},
	}, 2*time.Second)
}
