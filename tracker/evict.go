package tracker

import (
	"math/rand/v2"

	"github.com/btfs/btfs/metainfo"
)

// How a full torrent table makes room. Rules:
//
//   - One source address (an IPv4 address, an IPv6 /64) may be the only
//     source of at most maxOwned torrents; past that its new torrents are
//     refused, so one host alone cannot fill the table.
//   - When the table is full, a new torrent evicts an old one instead of
//     being refused, if one of a random sample is fair game: an empty
//     torrent, a torrent silent for staleAfter, or one whose only source owns
//     more such torrents than the newcomer's source does. A flooder's
//     torrents go first, and a flooder cannot evict an honest host's.
//   - Torrents with peers from two sources or more are swarms, never
//     evicted: they leave when their peers expire.
//
// The sample is evictSample torrents, at most evictPerShard from each shard
// visited, from a random shard on: a bounded cost, paid only when the table
// is full, with one shard lock held at a time.
const (
	evictSample   = 32
	evictPerShard = 8
)

// create makes the torrent a's announce names, unknown so far, if a's source
// may have another and there is room or room can be made. The caller holds
// sh.mu; create may release it for a while (to evict from other shards), so
// the torrent it returns may have been made meanwhile by someone else.
func (sw *swarm) create(sh *shard, a *swarmAnnounce, now int64) (*torrent, error) {
	if sw.maxOwned > 0 && sw.sources.owned(a.src) >= sw.maxOwned {
		return nil, errSourceTorrents
	}
	if sw.torrents.Add(1) > sw.maxTorrents {
		sw.torrents.Add(-1)
		sh.mu.Unlock()
		made := sw.evict(a.src, now)
		sh.mu.Lock()
		if t := sh.torrents[a.infoHash]; t != nil {
			return t, nil
		}
		if !made || sw.torrents.Add(1) > sw.maxTorrents {
			if made {
				sw.torrents.Add(-1) // someone else took the room made
			}
			return nil, errTooManyTorrents
		}
	}
	t := &torrent{owner: a.src, owned: true}
	sw.sources.addOwned(a.src, 1, now)
	sh.torrents[a.infoHash] = t
	return t, nil
}

// victim is an eviction candidate and how much it deserves to go.
type victim struct {
	shard int
	hash  metainfo.Hash
	empty bool
	owned int   // torrents its only source owns; 0 when it has none
	seen  int64 // its last announce
}

// before reports whether v should go before w.
func (v *victim) before(w *victim) bool {
	if v.empty != w.empty {
		return v.empty
	}
	if v.owned != w.owned {
		return v.owned > w.owned
	}
	return v.seen < w.seen
}

// evict drops one torrent to make room for a new one from src, as the rules
// above say, and reports whether it made room. The caller holds no lock.
func (sw *swarm) evict(src sourceKey, now int64) bool {
	var best victim
	found, seen := false, 0
	start := rand.IntN(numShards)
	for i := 0; i < numShards && seen < evictSample; i++ {
		idx := (start + i) % numShards
		sh := &sw.shards[idx]
		sh.mu.Lock()
		before := sw.torrents.Load()
		sh.maybeSweep(sw, now)
		if sw.torrents.Load() < before {
			sh.mu.Unlock()
			return true // the sweep due there made room
		}
		k := 0
		for h, t := range sh.torrents { // map order is random: a fresh sample each time
			if k == evictPerShard {
				break
			}
			k++
			seen++
			v, ok := sw.candidate(t)
			v.shard, v.hash = idx, h
			if ok && (!found || v.before(&best)) {
				best, found = v, true
			}
		}
		sh.mu.Unlock()
	}
	if !found || !best.empty && best.owned <= sw.sources.owned(src) && now-best.seen < sw.staleAfter {
		return false
	}
	sh := &sw.shards[best.shard]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t := sh.torrents[best.hash]
	if t == nil {
		return true // gone meanwhile: room all the same
	}
	if _, ok := sw.candidate(t); !ok {
		return false // a second source joined meanwhile
	}
	sw.drop(sh, best.hash, t, now)
	sw.evicted.Add(1)
	return true
}

// candidate says whether t may be evicted at all (it has at most one source)
// and how it ranks. The caller holds t's shard lock.
func (sw *swarm) candidate(t *torrent) (victim, bool) {
	switch {
	case t.n == 0:
		return victim{empty: true, seen: t.seen}, true
	case t.owned:
		// At least this one, even if a flood of addresses pushed the
		// owner's entry out of the sources table.
		return victim{owned: max(sw.sources.owned(t.owner), 1), seen: t.seen}, true
	case t.n == 1:
		return victim{seen: t.seen}, true
	}
	return victim{}, false
}
