package tracker

import (
	"hash/maphash"
	"net/netip"
	"sync"
)

// sources is what the tracker remembers per source address, to keep one
// host from taking more than its share: a token bucket for its announces,
// and how many torrents it is the only source of (see swarm.create).
//
// The table is bounded (cap entries over numSourceShards shards) whatever
// the number of addresses that talk to the tracker. An entry whose bucket
// is full again and that owns no torrent says nothing a new entry would not,
// so it is the first to go when a shard is full; only under a flood from
// more addresses than the table holds are live entries dropped, and then
// per-address limits could not hold anyway.
//
// Locking: sourceShard.mu guards its map. It is taken with a swarm shard's
// lock held (swarm shard, then source shard), never the other way round.
type sources struct {
	seed     maphash.Seed
	perShard int
	every    int64 // ns between two announce tokens; 0: announces are not limited
	tau      int64 // ns: how far an address's bucket may run ahead of now (burst-1 tokens)
	shards   [numSourceShards]sourceShard
}

// numSourceShards spreads the per-address lookups of concurrent announces
// over as many locks as the swarm has.
const numSourceShards = numShards

type sourceShard struct {
	mu sync.Mutex
	m  map[sourceKey]sourceState
	// spare is the map the next purge copies the live entries into; the
	// two take turns, so that purging allocates nothing.
	spare   map[sourceKey]sourceState
	purgeAt int      // len(m) at which the next new entry purges first
	_       [64]byte // keep neighbouring shards' locks off one cache line
}

// minPurge is the fewest entries a shard holds before it purges: purging
// more often would cost more than the lookups it keeps in the cache.
const minPurge = 64

// sourceState is one address's entry.
type sourceState struct {
	// tat is the bucket as GCRA keeps it: the time (unix ns) at which it
	// is full again. An announce is allowed while tat <= now+tau, and
	// moves tat one token later.
	tat   int64
	owned int32 // torrents this address is the only source of
}

// sourceKey is the unit the limits apply to: an IPv4 address, or the /64 of
// an IPv6 one (one host commonly holds a whole /64, so per-address limits on
// IPv6 would be per-host limits times 2^64).
type sourceKey [16]byte

func sourceOf(a netip.Addr) sourceKey {
	a = a.Unmap()
	k := a.As16()
	if a.Is6() {
		clear(k[8:])
	}
	return k
}

// newSources makes a table of at most capacity entries that allows rate
// announces a second to each address, burst at once (rate <= 0: no limit).
func newSources(capacity, rate, burst int) *sources {
	s := &sources{seed: maphash.MakeSeed(), perShard: max(capacity/numSourceShards, 1)}
	if rate > 0 {
		s.every = max(int64(1e9)/int64(rate), 1)
		s.tau = int64(max(burst, 1)-1) * s.every
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.m, sh.spare = make(map[sourceKey]sourceState), make(map[sourceKey]sourceState)
		sh.purgeAt = min(minPurge, s.perShard)
	}
	return s
}

func (s *sources) shard(k sourceKey) *sourceShard {
	return &s.shards[maphash.Comparable(s.seed, k)%numSourceShards]
}

// allowAnnounce takes a token from k's bucket, or reports that it is empty.
func (s *sources) allowAnnounce(k sourceKey, now int64) bool {
	if s.every == 0 {
		return true
	}
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st, ok := sh.m[k]
	if !ok {
		sh.makeRoom(s.perShard, now)
	}
	tat := max(st.tat, now)
	if tat > now+s.tau {
		return false
	}
	st.tat = tat + s.every
	sh.m[k] = st
	return true
}

// owned returns how many torrents k is the only source of.
func (s *sources) owned(k sourceKey) int {
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return int(sh.m[k].owned)
}

// addOwned adds d to k's count of torrents it is the only source of. A
// count never goes below zero: an entry dropped under a flood comes back at
// zero, and its torrents, when they go, find nothing to take back.
func (s *sources) addOwned(k sourceKey, d int, now int64) {
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st, ok := sh.m[k]
	if !ok {
		if d < 0 {
			return
		}
		sh.makeRoom(s.perShard, now)
	}
	st.owned = max(st.owned+int32(d), 0)
	if st.owned == 0 && st.tat <= now {
		delete(sh.m, k) // nothing left to remember
		return
	}
	sh.m[k] = st
}

// len is how many addresses the table holds, for tests.
func (s *sources) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// makeRoom purges the shard before a new entry goes in, when it holds
// purgeAt entries. An entry whose bucket is full again and that owns no
// torrent says nothing a new entry would not, and goes; the rest move to the
// spare map, which becomes the shard's. The shard then holds about the
// addresses seen within a token's time and those that own torrents, a map
// small enough to stay in the cache, however many addresses come and go.
// The next purge comes when that has doubled (at least minPurge, at most
// capacity): a purge's cost is spread over as many insertions as it keeps.
//
// At capacity, if that freed less than an eighth of it, entries that own no
// torrent go too, then any: a flood from more addresses than the table
// holds costs a few steps per insertion and no memory. The caller holds
// sh.mu.
func (sh *sourceShard) makeRoom(capacity int, now int64) {
	if len(sh.m) < sh.purgeAt {
		return
	}
	live := sh.spare
	clear(live)
	for k, st := range sh.m {
		if st.tat > now || st.owned > 0 {
			live[k] = st
		}
	}
	sh.m, sh.spare = live, sh.m
	if target := capacity - max(capacity/8, 1); len(live) > target {
		for k, st := range live {
			if len(live) <= target {
				break
			}
			if st.owned == 0 {
				delete(live, k)
			}
		}
		for k := range live {
			if len(live) <= target {
				break
			}
			delete(live, k)
		}
	}
	sh.purgeAt = min(max(2*len(live), minPurge), capacity)
}
