package fetch

import (
	"net/netip"
	"sync/atomic"
	"testing"
)

// bannedIP reports whether n has banned ip.
func bannedIP(t *testing.T, n *node, ip netip.Addr) bool {
	t.Helper()
	return n.t.bans.has(ip)
}

// loopbacks numbers the addresses loopbackHost hands out.
var loopbacks atomic.Uint32

// loopbackHost returns a loopback address no other caller gets (127.1.x.y),
// for a test peer that stands for a host of its own: bans and limits are
// by address, and Linux routes all of 127/8 to the loopback device.
func loopbackHost() netip.Addr {
	n := loopbacks.Add(1)
	return netip.AddrFrom4([4]byte{127, 1, byte(n >> 8), byte(n)})
}
