package tracker

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/btfs/btfs/metainfo"
)

// numShards splits the swarm state so that announces for different torrents
// rarely meet on one lock: well above the core count of big machines, small
// enough that a pass over every shard (stats) stays cheap.
const numShards = 64

// swarm is the tracker's memory: the peers of every torrent.
//
// Peers are keyed by endpoint (IP and port), not by peer id: the address is
// what the tracker hands out, several peers on one host (the loopback test
// bed) differ by port, and only the holder of an address can announce from
// it, whereas anyone can claim someone else's peer id and so evict them.
//
// Expiry is lazy: each shard sweeps itself, dropping peers silent for
// peerTTL and torrents left empty, on the first request that touches it
// after sweepEvery. State only grows through requests, so the requests pay
// for the sweeping and no goroutine is needed.
//
// New torrents are admitted by create (evict.go): one source address may be
// the only source of a bounded number of torrents, and a full table makes
// room by evicting rather than refusing everyone.
//
// Locking: shard.mu guards the shard's torrents map and everything reachable
// from it. A request holds one shard lock at a time, never two; it may take
// a sources shard's lock inside one (swarm shard, then sources shard). The
// totals below are atomics, updated under a shard lock and read without one.
type swarm struct {
	swarmLimits
	seed     maphash.Seed
	sources  *sources     // per-address counts of owned torrents
	torrents atomic.Int64 // torrents in all shards, against maxTorrents
	peers    atomic.Int64 // peers in all shards, against maxPeers
	evicted  atomic.Uint64
	shards   [numShards]shard
}

type swarmLimits struct {
	maxTorrents        int64
	maxPeers           int64
	maxPeersPerTorrent int
	maxOwned           int   // torrents one source may be the only source of; 0: no limit
	peerTTL            int64 // ns: a peer not heard from for this long is dropped
	sweepEvery         int64 // ns between two sweeps of one shard
	staleAfter         int64 // ns: a torrent silent this long may be evicted for anyone's
}

type shard struct {
	mu        sync.Mutex
	torrents  map[metainfo.Hash]*torrent
	nextSweep int64    // unix ns
	announces uint64   // for stats
	_         [64]byte // keep neighbouring shards' locks off one cache line
}

// swarmAnnounce is an announce after the server's policy: the address to
// store and what to send back.
type swarmAnnounce struct {
	infoHash metainfo.Hash
	peerID   [20]byte
	ep       endpoint
	src      sourceKey // who sent it, which ep need not say (the ip parameter)
	seeder   bool      // left == 0
	event    Event
	numWant  int    // already capped by policy
	fams     famSet // address families the reply can carry
}

type swarmResult struct {
	seeders, leechers int
	peers             []peer
}

func newSwarm(l swarmLimits, src *sources) *swarm {
	sw := &swarm{swarmLimits: l, seed: maphash.MakeSeed(), sources: src}
	for i := range sw.shards {
		sw.shards[i].torrents = make(map[metainfo.Hash]*torrent)
	}
	return sw
}

// shard picks by a keyed hash so that nobody can aim many torrents at one
// shard by choosing info-hashes.
func (sw *swarm) shard(h metainfo.Hash) *shard {
	return &sw.shards[maphash.Comparable(sw.seed, h)%numShards]
}

// announce records a peer's announce and appends the peers it gets back to
// dst (in res.peers). A stopped event removes the peer and returns none.
func (sw *swarm) announce(a *swarmAnnounce, now int64, dst []peer) (swarmResult, error) {
	sh := sw.shard(a.infoHash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.maybeSweep(sw, now)
	t := sh.torrents[a.infoHash]
	if a.event == EventStopped {
		sh.announces++
		if t != nil && t.remove(a.ep) {
			sw.peers.Add(-1)
		}
		return t.result(dst), nil
	}
	if t == nil {
		if sw.peers.Load() >= sw.maxPeers {
			sh.announces++
			return t.result(dst), nil // no room to store the peer: no torrent either
		}
		var err error
		if t, err = sw.create(sh, a, now); err != nil {
			return swarmResult{}, err
		}
	}
	sh.announces++
	t.seen = now
	role := roleOf(a.seeder)
	p := peer{ep: a.ep, id: a.peerID, seen: now}
	if s, ok := t.find(a.ep); ok {
		if a.event == EventCompleted && s.role != seeder {
			t.downloaded++
		}
		t.update(s, p, role)
	} else {
		if a.event == EventCompleted {
			t.downloaded++
		}
		// A full torrent or tracker still answers; the peer is just not
		// advertised until room frees up.
		if t.n < sw.maxPeersPerTorrent {
			if sw.peers.Add(1) <= sw.maxPeers {
				t.insert(p, role)
				if t.owned && a.src != t.owner {
					t.owned = false // a second source: a swarm, not one host's
					sw.sources.addOwned(t.owner, -1, now)
				}
			} else {
				sw.peers.Add(-1)
			}
		}
	}
	res := t.result(dst)
	res.peers = t.pick(dst, a)
	return res, nil
}

// scrape returns one torrent's counts; an unknown torrent has all zeros.
func (sw *swarm) scrape(h metainfo.Hash, now int64) ScrapeStats {
	sh := sw.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.maybeSweep(sw, now)
	t := sh.torrents[h]
	if t == nil {
		return ScrapeStats{}
	}
	return ScrapeStats{Seeders: t.count(seeder), Leechers: t.count(leecher), Downloaded: int(t.downloaded)}
}

// totals sums every shard, sweeping the ones that are due so that the counts
// do not include peers long gone.
func (sw *swarm) totals(now int64) (torrents, seeders, leechers int, announces uint64) {
	for i := range sw.shards {
		sh := &sw.shards[i]
		sh.mu.Lock()
		sh.maybeSweep(sw, now)
		torrents += len(sh.torrents)
		for _, t := range sh.torrents {
			seeders += t.count(seeder)
			leechers += t.count(leecher)
		}
		announces += sh.announces
		sh.mu.Unlock()
	}
	return torrents, seeders, leechers, announces
}

// maybeSweep drops the shard's expired peers and empty torrents when a sweep
// is due. The caller holds sh.mu.
func (sh *shard) maybeSweep(sw *swarm, now int64) {
	if now < sh.nextSweep {
		return
	}
	sh.nextSweep = now + sw.sweepEvery
	cutoff := now - sw.peerTTL
	for h, t := range sh.torrents {
		if n := t.expire(cutoff); n > 0 {
			sw.peers.Add(-int64(n))
		}
		if t.n == 0 {
			sw.drop(sh, h, t, now)
		}
	}
}

// drop removes torrent t (at h in sh) and gives back what it counted
// against the limits. The caller holds sh.mu.
func (sw *swarm) drop(sh *shard, h metainfo.Hash, t *torrent, now int64) {
	delete(sh.torrents, h)
	sw.torrents.Add(-1)
	sw.peers.Add(-int64(t.n))
	if t.owned {
		sw.sources.addOwned(t.owner, -1, now)
	}
}

// endpoint is a peer's address as the compact formats carry it: 16 bytes of
// IP (IPv4 as ::ffff:a.b.c.d) and a port. It is comparable, so it keys maps.
type endpoint struct {
	ip   [16]byte
	port uint16
}

func endpointOf(ap netip.AddrPort) endpoint {
	return endpoint{ip: ap.Addr().As16(), port: ap.Port()}
}

func (e endpoint) addr() netip.Addr { return netip.AddrFrom16(e.ip).Unmap() }

// family tells IPv4 (::ffff:a.b.c.d) from IPv6, with two word loads: it
// runs for every peer of every reply.
func (e endpoint) family() int {
	if binary.LittleEndian.Uint64(e.ip[:8]) == 0 && binary.BigEndian.Uint32(e.ip[8:12]) == 0xffff {
		return fam4
	}
	return fam6
}

// Address families, as indexes and as the bits of a famSet.
const (
	fam4 = 0
	fam6 = 1
)

type famSet uint8

const (
	want4 famSet = 1 << fam4
	want6 famSet = 1 << fam6
)
