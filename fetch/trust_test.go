package fetch

import (
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/btfs/btfs/metainfo"
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

var (
	ipA = netip.MustParseAddr("10.0.0.1")
	ipB = netip.MustParseAddr("10.0.0.2")
	ipC = netip.MustParseAddr("10.0.0.3")
)

// trustEvent is one hash check: a piece sent by senders passed or failed.
type trustEvent struct {
	pass    bool
	senders []netip.Addr
}

func pass(s ...netip.Addr) trustEvent { return trustEvent{pass: true, senders: s} }
func fail(s ...netip.Addr) trustEvent { return trustEvent{senders: s} }

// The trust policy (trust.go), event by event: who is banned, who is on
// parole, and the points left.
func TestTrustPolicy(t *testing.T) {
	tests := []struct {
		name   string
		events []trustEvent
		banned []netip.Addr
		parole []netip.Addr
		points map[netip.Addr]int
	}{
		{"a sole sender of a bad piece is banned at once",
			[]trustEvent{pass(ipA), pass(ipA), fail(ipA)}, []netip.Addr{ipA}, nil, nil},
		{"a mixed failure paroles both, bans neither",
			[]trustEvent{fail(ipA, ipB)}, nil, []netip.Addr{ipA, ipB}, map[netip.Addr]int{ipA: -2, ipB: -2}},
		{"a good piece of its own ends parole",
			[]trustEvent{fail(ipA, ipB), pass(ipB)}, nil, []netip.Addr{ipA}, map[netip.Addr]int{ipA: -2, ipB: -1}},
		{"a shared good piece does not end parole",
			[]trustEvent{fail(ipA, ipB), pass(ipA, ipB)}, nil, []netip.Addr{ipA, ipB}, map[netip.Addr]int{ipA: -1, ipB: -1}},
		{"four mixed failures ban (libtorrent's -7)",
			[]trustEvent{fail(ipA, ipB), fail(ipA, ipC), fail(ipA, ipB), fail(ipA, ipC)},
			[]netip.Addr{ipA}, []netip.Addr{ipB, ipC}, map[netip.Addr]int{ipB: -4, ipC: -4}},
		{"three mixed failures do not ban an honest peer (the old three strikes did)",
			[]trustEvent{fail(ipA, ipB), fail(ipA, ipB), fail(ipA, ipB)}, nil, []netip.Addr{ipA, ipB},
			map[netip.Addr]int{ipA: -6, ipB: -6}},
		{"good pieces earn room, up to a cap",
			[]trustEvent{pass(ipA), pass(ipA), pass(ipA), pass(ipA), pass(ipA), pass(ipA), pass(ipA), pass(ipA), pass(ipA), pass(ipA),
				fail(ipA, ipB), fail(ipA, ipB), fail(ipA, ipB), fail(ipA, ipB)},
			[]netip.Addr{ipB}, []netip.Addr{ipA}, map[netip.Addr]int{ipA: 0}},
		{"a banned sender takes the blame alone",
			[]trustEvent{fail(ipC), fail(ipA, ipC)}, []netip.Addr{ipC}, nil, map[netip.Addr]int{ipA: 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt := newTrustTable()
			bans := newBanList()
			for _, e := range tc.events {
				if e.pass {
					tt.passed(e.senders)
					continue
				}
				ban, _ := tt.failed(e.senders, bans.has)
				for _, ip := range ban {
					bans.add(ip)
					tt.forget(ip)
				}
			}
			for _, ip := range []netip.Addr{ipA, ipB, ipC} {
				if want := slices.Contains(tc.banned, ip); bans.has(ip) != want {
					t.Errorf("%v banned: %v, want %v", ip, bans.has(ip), want)
				}
				if want := slices.Contains(tc.parole, ip); tt.onParole(ip) != want {
					t.Errorf("%v on parole: %v, want %v", ip, tt.onParole(ip), want)
				}
				if want, ok := tc.points[ip]; ok {
					if r := tt.recs[ip]; (r == nil && want != 0) || (r != nil && r.points != want) {
						t.Errorf("%v points: %+v, want %d", ip, r, want)
					}
				}
			}
		})
	}
}

// Smart ban gives back what a failure cost a sender whose blocks were good.
func TestTrustClearedByGoodBlocks(t *testing.T) {
	tt := newTrustTable()
	tt.failed([]netip.Addr{ipA, ipB}, func(netip.Addr) bool { return false })
	tt.cleared(ipB)
	if r := tt.recs[ipB]; r.points != 0 {
		t.Fatalf("points after clearing: %d, want 0", r.points)
	}
}

func TestUnrequestedBlocksBanPastTheLimit(t *testing.T) {
	tt := newTrustTable()
	for i := range maxUnrequested {
		if tt.unrequested(ipA) {
			t.Fatalf("banned after %d blocks", i+1)
		}
	}
	if !tt.unrequested(ipA) {
		t.Fatalf("not banned after %d blocks", maxUnrequested+1)
	}
}

// The table stays bounded, and makes room with plain records first.
func TestTrustTableBounded(t *testing.T) {
	tt := newTrustTable()
	tt.failed([]netip.Addr{ipA, ipB}, func(netip.Addr) bool { return false }) // two records of note
	for i := range maxTrustRecords + 100 {
		tt.passed([]netip.Addr{netip.AddrFrom4([4]byte{11, 0, byte(i >> 8), byte(i)})})
	}
	if len(tt.recs) > maxTrustRecords {
		t.Fatalf("%d records, bound %d", len(tt.recs), maxTrustRecords)
	}
	if !tt.onParole(ipA) || !tt.onParole(ipB) {
		t.Fatal("a record on parole made room for a plain one")
	}
}

func hashOf(b byte) metainfo.Hash { return metainfo.Hash{b} }

// Smart ban's bookkeeping: what a failed download leaves, and what the good
// copy says of it.
func TestSmartBan(t *testing.T) {
	none := netip.Addr{}
	tests := []struct {
		name           string
		failures       [][]netip.Addr    // senders of each failed download, by block
		hashes         [][]metainfo.Hash // what each block hashed to
		twice          []netip.Addr      // who sent one block twice, differently
		good           []metainfo.Hash   // the blocks of the good copy
		liars, cleared []netip.Addr
	}{
		{"the block that differs names its sender; the other sender is cleared",
			[][]netip.Addr{{ipA, ipB}}, [][]metainfo.Hash{{hashOf(1), hashOf(9)}}, nil,
			[]metainfo.Hash{hashOf(1), hashOf(2)}, []netip.Addr{ipB}, []netip.Addr{ipA}},
		{"two liars in one piece",
			[][]netip.Addr{{ipA, ipB, ipC}}, [][]metainfo.Hash{{hashOf(8), hashOf(9), hashOf(3)}}, nil,
			[]metainfo.Hash{hashOf(1), hashOf(2), hashOf(3)}, []netip.Addr{ipA, ipB}, []netip.Addr{ipC}},
		{"a sender that changes its story lied once at least",
			[][]netip.Addr{{ipA, ipB}, {ipA, ipC}}, [][]metainfo.Hash{{hashOf(1), hashOf(9)}, {hashOf(5), hashOf(2)}},
			[]netip.Addr{ipA}, []metainfo.Hash{hashOf(1), hashOf(2)}, []netip.Addr{ipB}, []netip.Addr{ipC}},
		{"unknown senders are skipped",
			[][]netip.Addr{{none, ipB}}, [][]metainfo.Hash{{hashOf(7), hashOf(2)}}, nil,
			[]metainfo.Hash{hashOf(1), hashOf(2)}, nil, []netip.Addr{ipB}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var recs []blockRecord
			var twice []netip.Addr
			for i, from := range tc.failures {
				var tw []netip.Addr
				recs, tw = recordFailed(recs, from, tc.hashes[i])
				twice = append(twice, tw...)
			}
			if !slices.Equal(twice, tc.twice) {
				t.Errorf("twice = %v, want %v", twice, tc.twice)
			}
			liars, cleared := smartBanVerdict(recs, tc.good)
			// A sender found out by changing its story is banned already;
			// the verdict may name it again, which changes nothing.
			liars = slices.DeleteFunc(liars, func(ip netip.Addr) bool { return slices.Contains(twice, ip) })
			cleared = slices.DeleteFunc(cleared, func(ip netip.Addr) bool { return slices.Contains(twice, ip) })
			if !slices.Equal(liars, tc.liars) || !slices.Equal(cleared, tc.cleared) {
				t.Errorf("liars %v, cleared %v; want %v, %v", liars, cleared, tc.liars, tc.cleared)
			}
		})
	}
}

// The records of one piece stay bounded however often it fails.
func TestSmartBanRecordsBounded(t *testing.T) {
	var recs []blockRecord
	for i := range 100 {
		ip := netip.AddrFrom4([4]byte{11, 0, 0, byte(i)})
		recs, _ = recordFailed(recs, []netip.Addr{ip, ip}, []metainfo.Hash{hashOf(1), hashOf(2)})
	}
	if len(recs) > maxSuspectFailures*2 {
		t.Fatalf("%d records for a piece of 2 blocks", len(recs))
	}
}

// The ban list forgets its oldest ban past its bound.
func TestBanListBounded(t *testing.T) {
	b := newBanList()
	first := netip.AddrFrom4([4]byte{11, 0, 0, 0})
	for i := range maxBans + 1 {
		if !b.add(netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)})) {
			t.Fatalf("ban %d was not new", i)
		}
	}
	if b.len() != maxBans || b.has(first) || !b.has(netip.AddrFrom4([4]byte{11, 0, 0, 1})) {
		t.Fatalf("%d bans, first kept %v", b.len(), b.has(first))
	}
	if b.add(netip.AddrFrom4([4]byte{11, 0, 0, 1})) {
		t.Fatal("a second ban of one address counted as new")
	}
}

func TestSharedLoopback(t *testing.T) {
	for s, want := range map[string]bool{"127.0.0.1": true, "::1": true, "127.0.0.5": false, "10.0.0.1": false} {
		if got := sharedLoopback(netip.MustParseAddr(s)); got != want {
			t.Errorf("sharedLoopback(%s) = %v", s, got)
		}
	}
}
