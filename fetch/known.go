package fetch

import (
	"context"
	"net/netip"
	"slices"
)

// KnownPeers returns the addresses the torrent knows to dial, at most n:
// those it is connected to first, then those a tracker or the DHT named
// that have not failed (an address only PEX named is not vouched for, and
// AddPeers would take it as a tracker's). A parked torrent hands them to
// its next engine, so that rejoining the swarm dials them at once rather
// than waiting for a tracker's answer.
func (t *Torrent) KnownPeers(ctx context.Context, n int) ([]netip.AddrPort, error) {
	var connected, other []netip.AddrPort
	err := t.do(ctx, func() {
		for a, c := range t.book.m {
			switch {
			case c.connected:
				connected = append(connected, a)
			case c.failures == 0 && c.src > fromPEX:
				other = append(other, a)
			}
		}
	})
	all := slices.Concat(connected, other)
	return all[:min(n, len(all))], err
}
