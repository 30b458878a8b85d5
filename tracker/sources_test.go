package tracker

import (
	"net/netip"
	"testing"
)

// TestSourcesBounded: a stream of new addresses, far more than the table
// holds, keeps it at its size, and the entry of an address that owns a
// torrent outlives them.
func TestSourcesBounded(t *testing.T) {
	const capacity = 2 * numSourceShards
	s := newSources(capacity, 10, 5)
	now := int64(1e12)
	owner := sourceOf(netip.MustParseAddr("192.0.2.1"))
	s.addOwned(owner, 1, now)
	for i := range 20000 {
		k := sourceOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		if !s.allowAnnounce(k, now) {
			t.Fatalf("address %d's first announce refused", i)
		}
		if n := s.len(); n > capacity {
			t.Fatalf("%d entries after %d addresses, over %d", n, i+1, capacity)
		}
	}
	if s.owned(owner) != 1 {
		t.Error("the owning address was forgotten")
	}
}

// TestSourcesRate: an address gets its burst, then a token per interval.
func TestSourcesRate(t *testing.T) {
	s := newSources(maxSources, 10, 5)
	now := int64(1e12)
	busy := sourceOf(netip.MustParseAddr("192.0.2.2"))
	for range 5 {
		if !s.allowAnnounce(busy, now) {
			t.Fatal("burst refused")
		}
	}
	if s.allowAnnounce(busy, now+int64(99e6)) {
		t.Error("a sixth announce within the burst's time")
	}
	if !s.allowAnnounce(busy, now+int64(100e6)) || s.allowAnnounce(busy, now+int64(100e6)) {
		t.Error("not exactly one more token after a tenth of a second")
	}
}

// TestSourceKeys: IPv4 (mapped or not) is per address, IPv6 per /64.
func TestSourceKeys(t *testing.T) {
	a := netip.MustParseAddr
	if sourceOf(a("::ffff:10.0.0.1")) != sourceOf(a("10.0.0.1")) || sourceOf(a("10.0.0.1")) == sourceOf(a("10.0.0.2")) {
		t.Error("IPv4 keys")
	}
	if sourceOf(a("2001:db8:1:2::1")) != sourceOf(a("2001:db8:1:2:ffff::9")) || sourceOf(a("2001:db8:1:2::1")) == sourceOf(a("2001:db8:1:3::1")) {
		t.Error("IPv6 keys")
	}
}
