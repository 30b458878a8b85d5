package fetch

import (
	"net/netip"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/wait"
)

// Silent connections, which never send a handshake and are reopened just
// before the handshake deadline, flood a seeder: 200 from one host, then
// 200 from 50 hosts. An honest leecher still gets in and downloads.
func TestSilentFloodOnSeeder(t *testing.T) {
	mi, src := makeContent(t, 4<<20, 32<<10)
	oneHost := []netip.Addr{attackerIP(12, 0)}
	var manyHosts []netip.Addr
	for i := range 50 {
		manyHosts = append(manyHosts, attackerIP(13, i))
	}
	for _, c := range []struct {
		name  string
		ips   []netip.Addr
		perIP int
	}{
		{"one host", oneHost, 200},
		{"many hosts", manyHosts, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			underAttack(t, mi, src, download{
				leecherDials: true,
				attack: func(seeder, _ *node) {
					deadline := shortHandshakes(seeder, time.Second)
					a := newAttackers(t, mi)
					a.silent(seeder.addr, c.ips, c.perIP, deadline*95/100)
					// The leecher is told of the seeder once every silent
					// connection has been opened.
					wait.For(t, "the flood to open its connections", 10*time.Second, func() bool {
						return a.opened.Load() >= int64(len(c.ips)*c.perIP)
					})
				},
			}, 0)
		})
	}
}
