package tracker

import (
	"net/netip"
	"testing"
	"time"
)

// checkAccounting checks what the swarm counts against what it holds: the
// torrent and peer totals, the table's bound, and each source's count of
// the torrents it is the only source of (exact while the sources table has
// never had to drop an entry that owned one).
func checkAccounting(t *testing.T, sw *swarm) {
	t.Helper()
	var torrents, peers int64
	owned := map[sourceKey]int{}
	for i := range sw.shards {
		sh := &sw.shards[i]
		sh.mu.Lock()
		torrents += int64(len(sh.torrents))
		for _, tr := range sh.torrents {
			peers += int64(tr.n)
			if tr.owned {
				owned[tr.owner]++
			}
		}
		sh.mu.Unlock()
	}
	if torrents != sw.torrents.Load() || peers != sw.peers.Load() {
		t.Fatalf("holds %d torrents and %d peers, counts %d and %d", torrents, peers, sw.torrents.Load(), sw.peers.Load())
	}
	if torrents > sw.maxTorrents {
		t.Fatalf("%d torrents, over %d", torrents, sw.maxTorrents)
	}
	total := 0
	for i := range sw.sources.shards {
		sh := &sw.sources.shards[i]
		sh.mu.Lock()
		for k, st := range sh.m {
			if int(st.owned) != owned[k] {
				t.Errorf("source %x counts %d owned torrents, holds %d", k, st.owned, owned[k])
			}
			total += int(st.owned)
		}
		sh.mu.Unlock()
	}
	want := 0
	for _, n := range owned {
		want += n
	}
	if total != want {
		t.Fatalf("sources count %d owned torrents, the swarm holds %d", total, want)
	}
}

// FuzzSwarm runs announces read from the input (torrent, source, port,
// event, and clock steps) against a small swarm, and checks the accounting
// after every one.
func FuzzSwarm(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 1, 1, 1, 0, 2, 2, 1, 0})
	f.Add([]byte{0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1, 3, 0, 2, 1, 0xf0})
	f.Add([]byte{1, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 4, 0, 1, 0, 5, 0, 1, 0, 6, 1, 1, 0, 7, 2, 1, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		// A few dozen announces reach every state of a table this small;
		// longer inputs only slow the fuzzer down (checkAccounting walks
		// every shard after each one).
		ops = ops[:min(len(ops), 4*64)]
		clock := newFakeClock()
		s, err := NewServer(ServerOptions{MaxTorrents: 5, MaxPeers: 12, MaxPeersPerTorrent: 4, PerIPMaxTorrents: 3,
			PerIPAnnounceRate: 5, PerIPAnnounceBurst: 20, Interval: time.Minute, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]peer, 0, 50)
		for ; len(ops) >= 4; ops = ops[4:] {
			// byte 0: torrent; 1: source address; 2: port; 3: event (low
			// 2 bits), seeder (bit 2), and clock steps of 10 s (high bits).
			src := netip.AddrFrom4([4]byte{127, 0, 0, 1 + ops[1]%6})
			a := swarmAnnounce{infoHash: hashN(int(ops[0] % 10)), peerID: idN(int(ops[2])),
				ep: endpointOf(netip.AddrPortFrom(src, uint16(ops[2]%4)+1)), src: sourceOf(src),
				event: Event(ops[3] & 3), seeder: ops[3]&4 != 0, fams: want4, numWant: 50}
			clock.Advance(time.Duration(ops[3]>>3) * 10 * time.Second)
			res, err := s.announce(&a, 50, buf[:0])
			if err == nil && len(res.peers) > 4 {
				t.Fatalf("%d peers from a torrent of at most 4", len(res.peers))
			}
			checkAccounting(t, s.swarm)
		}
	})
}

// TestEvictionRanks: the victim is an empty torrent first, then the one
// whose source owns the most, then the oldest.
func TestEvictionRanks(t *testing.T) {
	empty := victim{empty: true, seen: 50}
	heavy := victim{owned: 9, seen: 100}
	light := victim{owned: 1, seen: 10}
	old := victim{owned: 1, seen: 5}
	for _, tt := range []struct {
		a, b victim
		want bool
	}{
		{empty, heavy, true}, {heavy, empty, false}, {heavy, light, true}, {light, heavy, false},
		{old, light, true}, {light, old, false},
	} {
		if got := tt.a.before(&tt.b); got != tt.want {
			t.Errorf("%+v before %+v: %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
