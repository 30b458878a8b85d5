package fetch

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// The address book's rules (addrbook.go), on a book of six with room for
// three addresses from PEX.
func TestAddrBookRules(t *testing.T) {
	at := func(i int) netip.AddrPort { return netip.AddrPortFrom(attackerIP(16, i), 6881) }
	t0 := time.Unix(1_000_000, 0)
	tick := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	b := newAddrBook()
	b.limit, b.pexes = 6, 3

	// PEX gets its share and no more: the oldest PEX address makes room.
	for i := range 4 {
		if !b.add(at(i), fromPEX, tick(i)) {
			t.Fatalf("PEX address %d refused", i)
		}
	}
	if b.len() != 3 || b.pex != 3 || b.get(at(0)) != nil {
		t.Fatalf("after 4 PEX addresses: %d kept, %d PEX, first kept %v; want 3, 3, the first gone", b.len(), b.pex, b.get(at(0)) != nil)
	}
	// Named again by a tracker, an address leaves the PEX share.
	b.add(at(1), fromTracker, tick(10))
	if c := b.get(at(1)); c.src != fromTracker || b.pex != 2 || !c.seen.Equal(tick(10)) {
		t.Fatalf("after the tracker named a PEX address: source %v, %d PEX, seen %v", c.src, b.pex, c.seen)
	}
	b.add(at(1), fromPEX, tick(11)) // a lesser source does not demote it
	if c := b.get(at(1)); c.src != fromTracker || b.pex != 2 {
		t.Fatalf("a PEX message demoted a tracker's address: %v, %d PEX", c.src, b.pex)
	}
	// The book: 1 tracker, 2 and 3 PEX; fill it with DHT 4, 5 and 6.
	for i := 4; i <= 6; i++ {
		b.add(at(i), fromDHT, tick(i))
	}
	if b.len() != 6 {
		t.Fatalf("%d addresses, want 6", b.len())
	}
	// Full: a failed address goes first, then PEX before DHT, then the
	// oldest; a connected one never.
	b.get(at(5)).failed(tick(20))
	b.get(at(2)).connected = true
	if !b.add(at(7), fromDHT, tick(21)) || b.get(at(5)) != nil {
		t.Fatal("a DHT address did not take the place of the failed one")
	}
	if !b.add(at(8), fromTracker, tick(22)) || b.get(at(3)) != nil {
		t.Fatal("a tracker's address did not take the place of the unconnected PEX one")
	}
	if !b.add(at(9), fromTracker, tick(23)) || b.get(at(4)) != nil {
		t.Fatal("a tracker's address did not take the place of the oldest DHT one (the PEX one is connected)")
	}
	// Now: 1, 8, 9 tracker; 2 PEX (connected); 6, 7 DHT. PEX cannot evict
	// (its only address is connected); DHT evicts DHT; tracker always gets
	// in while anything is unconnected.
	if b.add(at(10), fromPEX, tick(24)) {
		t.Fatal("a PEX address got in with no PEX address to evict")
	}
	b.get(at(1)).dialing = true
	b.add(at(11), fromTracker, tick(25))
	b.add(at(12), fromTracker, tick(26))
	b.add(at(13), fromTracker, tick(27))
	if b.add(at(14), fromDHT, tick(28)) {
		t.Fatal("a DHT address evicted a tracker's")
	}
	if b.len() != 6 || b.get(at(1)) == nil || b.get(at(2)) == nil {
		t.Fatal("an address being dialed or connected was evicted")
	}

	// Dialing order: fewest failures, then most trusted, then most recent.
	d := newAddrBook()
	d.add(at(1), fromPEX, tick(1))
	d.add(at(2), fromTracker, tick(2))
	d.add(at(3), fromTracker, tick(3))
	d.add(at(4), fromDHT, tick(4))
	d.add(at(5), fromTracker, tick(5))
	d.get(at(5)).failed(tick(0)) // due again at tick(5)
	d.add(at(6), fromTracker, tick(6))
	d.get(at(6)).dialing = true
	d.add(at(7), fromTracker, tick(7))
	d.get(at(7)).failed(tick(7)) // not due until tick(12)
	got := slices.Clone(d.due(tick(8), 10, func(a netip.AddrPort) bool { return a == at(2) }))
	want := []netip.AddrPort{at(3), at(4), at(1), at(5)}
	if !slices.Equal(got, want) {
		t.Fatalf("dial order %v, want %v", got, want)
	}
	if got := d.due(tick(8), 2, func(netip.AddrPort) bool { return false }); !slices.Equal(got, []netip.AddrPort{at(3), at(2)}) {
		t.Fatalf("the first two due: %v", got)
	}
}
