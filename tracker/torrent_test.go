package tracker

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestTorrentAgainstModel drives one torrent through random announces,
// role changes, removals and expiry, growing it past indexMin and shrinking
// it below indexMin/2 again several times, and after every step compares it
// with a plain map of what it should hold: the index (when there is one)
// and the scan (when there is not) must find exactly the peers stored.
func TestTorrentAgainstModel(t *testing.T) {
	type want struct {
		role uint8
		seen int64
	}
	var pool []endpoint
	for i := range 3 * indexMin {
		ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
		if i%4 == 0 {
			ip = netip.AddrFrom16([16]byte{0x20, 0x01, 15: byte(i)})
		}
		pool = append(pool, endpointOf(netip.AddrPortFrom(ip, uint16(6881+i%3))))
	}
	r := rand.New(rand.NewPCG(1, 2))
	tr := newTorrent()
	model := map[endpoint]want{}
	var now int64
	builds, drops := 0, 0
	for step := range 20000 {
		// Alternate phases that mostly add (settling near 75 peers) and
		// mostly remove (near 10), so that the size sweeps across both
		// thresholds.
		announceShare := 1 // of 10
		if step/500%2 == 0 {
			announceShare = 7
		}
		hadIndex := tr.index != nil
		now++
		ep := pool[r.IntN(len(pool))]
		switch op := r.IntN(10); {
		case op < announceShare: // insert or update, maybe with a new role
			role := uint8(r.IntN(2))
			p := peer{ep: ep, seen: now}
			if s, ok := tr.find(ep); ok {
				tr.update(s, p, role)
			} else {
				tr.insert(p, role)
			}
			model[ep] = want{role, now}
		case op == 9: // expire the oldest few
			cutoff := now - int64(r.IntN(200))
			n := tr.expire(cutoff)
			gone := 0
			for e, w := range model {
				if w.seen < cutoff {
					delete(model, e)
					gone++
				}
			}
			if n != gone {
				t.Fatalf("step %d: expire removed %d, want %d", step, n, gone)
			}
		default:
			_, had := model[ep]
			if got := tr.remove(ep); got != had {
				t.Fatalf("step %d: remove = %v, want %v", step, got, had)
			}
			delete(model, ep)
		}

		if tr.n != len(model) || tr.count(seeder)+tr.count(leecher) != tr.n {
			t.Fatalf("step %d: n %d, counts %d+%d, want %d", step, tr.n, tr.count(seeder), tr.count(leecher), len(model))
		}
		switch {
		case tr.n >= indexMin && tr.index == nil:
			t.Fatalf("step %d: %d peers and no index", step, tr.n)
		case tr.n < indexMin/2 && tr.index != nil:
			t.Fatalf("step %d: %d peers and an index", step, tr.n)
		case tr.index != nil && len(tr.index) != tr.n:
			t.Fatalf("step %d: index holds %d, lists %d", step, len(tr.index), tr.n)
		}
		switch {
		case tr.index != nil && !hadIndex:
			builds++
		case tr.index == nil && hadIndex:
			drops++
		}
		for _, e := range pool {
			w, in := model[e]
			s, ok := tr.find(e)
			if ok != in {
				t.Fatalf("step %d: find(%v) = %v, want %v", step, e.addr(), ok, in)
			}
			if !ok {
				continue
			}
			l := tr.lists[s.fam][s.role]
			if int(s.i) >= len(l) || l[s.i].ep != e || s.role != w.role || l[s.i].seen != w.seen || int(s.fam) != e.family() {
				t.Fatalf("step %d: find(%v) = %+v, which does not hold it as the model does (%+v)", step, e.addr(), s, w)
			}
		}
	}
	if builds < 10 || drops < 10 {
		t.Fatalf("the index was built %d times and dropped %d: the sizes did not sweep the thresholds", builds, drops)
	}
}
