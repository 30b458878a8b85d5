package fetch

import (
	"net"
	"net/netip"
	"testing"
)

// The pending set's rules, over real loopback connections: a per-IP cap,
// and a full set that gives the oldest slot of the busiest IP away.
func TestPendingSetRules(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	target := netip.MustParseAddrPort(ln.Addr().String())
	a := newAttackers(t, nil)
	accept := func(ip netip.Addr) net.Conn {
		t.Helper()
		c, err := a.dialFrom(ip, target)
		if err != nil {
			t.Fatal(err)
		}
		a.track(c)
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	busy, quiet, other := attackerIP(14, 0), attackerIP(14, 1), attackerIP(14, 2)
	s := newPendingSet(4, 3)
	var busyConns []*pendingConn
	for range 3 {
		pc := s.admit(accept(busy))
		if pc == nil {
			t.Fatal("refused a connection under both caps")
		}
		busyConns = append(busyConns, pc)
	}
	// At its cap, a fourth connection from the busy IP takes that IP's
	// oldest slot: the IP still holds 3.
	fourth := s.admit(accept(busy))
	if fourth == nil || len(s.byIP[busy]) != 3 || s.byIP[busy][0] != busyConns[1] || s.n != 3 {
		t.Fatalf("a connection past its IP's cap: %v, the IP holds %d, %d pending; want its own oldest slot taken", fourth, len(s.byIP[busy]), s.n)
	}
	if _, err := busyConns[0].nc.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection whose slot was taken is still open")
	}
	s.release(busyConns[0]) // its goroutine releases it too: no effect
	busyConns = append(busyConns[1:], fourth)
	q := s.admit(accept(quiet))
	if q == nil || s.n != 4 {
		t.Fatalf("admitted %v, %d pending; want the quiet IP's connection and 4", q, s.n)
	}
	// Full: the next connection takes the busy IP's oldest slot.
	if s.admit(accept(other)) == nil {
		t.Fatal("a full set refused a newcomer instead of giving it a slot")
	}
	if s.n != 4 || len(s.byIP[busy]) != 2 || s.byIP[busy][0] != busyConns[1] {
		t.Fatalf("after the newcomer: %d pending, busy IP holds %d; want 4 and 2 (the oldest gone)", s.n, len(s.byIP[busy]))
	}
	if _, err := busyConns[0].nc.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection whose slot was taken is still open")
	}
	s.release(busyConns[0])
	s.release(q)
	if s.n != 3 || s.byIP[quiet] != nil {
		t.Fatalf("after releases: %d pending, quiet IP %v; want 3 and none", s.n, s.byIP[quiet])
	}
}
