package fetch

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// The address book: the addresses a torrent may connect to, where each came
// from, and which to forget when it is full. Rules:
//
//   - It holds at most maxCandidates addresses, and at most maxPexCandidates
//     of them known only from PEX, so that what connected peers say cannot
//     crowd out what trackers and the DHT said.
//   - A tracker's answer (and an address given by AddPeers) always gets in:
//     when the book is full it evicts another address. A DHT address may
//     evict only DHT or PEX addresses, a PEX address only PEX addresses;
//     when none can go, the new address is dropped.
//   - Eviction never touches an address that is connected or being dialed.
//     Of the others it evicts a failed one first (most failures first), then
//     the least trusted source (PEX, then DHT, then tracker), then the one
//     heard of longest ago.
//   - An address named again keeps the most trusted of its sources and is
//     counted as heard of now.
//   - Dialing tries the addresses that are due, fewest failures first, then
//     the most trusted source, then the most recently heard of: a flood of
//     junk from PEX waits behind the tracker's answers.

// peerSource is where an address came from; a larger value is trusted more.
type peerSource uint8

const (
	fromPEX peerSource = iota + 1
	fromDHT
	fromTracker // tracker answers, and addresses given to AddPeers
)

func (s peerSource) String() string {
	switch s {
	case fromPEX:
		return "pex"
	case fromDHT:
		return "dht"
	case fromTracker:
		return "tracker"
	}
	return "unknown"
}

const (
	// maxCandidates bounds the addresses remembered per torrent, however many
	// trackers and peers hand us: a few hundred KiB at most.
	maxCandidates = 2000
	// maxPexCandidates bounds those known only from PEX: any peer can send
	// PEX messages full of made-up addresses (50 at a time, from as many
	// connections as it likes), so they get half of the book, never all.
	maxPexCandidates = maxCandidates / 2
)

// candidate is an address we may connect to.
type candidate struct {
	nextTry   time.Time
	seen      time.Time  // when a source last named it
	src       peerSource // the most trusted source that named it
	failures  int
	connected bool
	dialing   bool
}

func (c *candidate) failed(now time.Time) {
	c.failures++
	d := backoffBase << min(c.failures-1, 10)
	c.nextTry = now.Add(min(d, backoffMax))
}

// addrBook is the candidate table. It is owned by the loop.
type addrBook struct {
	m     map[netip.AddrPort]*candidate
	pex   int              // candidates whose src is fromPEX
	limit int              // maxCandidates; tests may lower it
	pexes int              // maxPexCandidates; tests may lower it
	order []netip.AddrPort // due's scratch
}

func newAddrBook() *addrBook {
	return &addrBook{m: map[netip.AddrPort]*candidate{}, limit: maxCandidates, pexes: maxPexCandidates}
}

func (b *addrBook) get(a netip.AddrPort) *candidate { return b.m[a] }

func (b *addrBook) len() int { return len(b.m) }

// add records that src named a, evicting another address if the book is
// full and the rules let it; it reports whether a is in the book now.
func (b *addrBook) add(a netip.AddrPort, src peerSource, now time.Time) bool {
	if c := b.m[a]; c != nil {
		if src > c.src {
			if c.src == fromPEX {
				b.pex--
			}
			c.src = src
		}
		c.seen = now
		return true
	}
	if src == fromPEX && b.pex >= b.pexes && !b.evict(fromPEX) {
		return false
	}
	if len(b.m) >= b.limit && !b.evict(src) {
		return false
	}
	b.m[a] = &candidate{seen: now, src: src}
	if src == fromPEX {
		b.pex++
	}
	return true
}

// evict forgets the address most fit to go (see the rules) among those
// whose source is no more trusted than src; false if there is none.
func (b *addrBook) evict(src peerSource) bool {
	var victim netip.AddrPort
	var worst *candidate
	for a, c := range b.m {
		if c.connected || c.dialing || c.src > src {
			continue
		}
		if worst == nil || evictFirst(c, worst) {
			victim, worst = a, c
		}
	}
	if worst == nil {
		return false
	}
	b.remove(victim)
	return true
}

// evictFirst reports whether c should be evicted before d.
func evictFirst(c, d *candidate) bool {
	if c.failures != d.failures {
		return c.failures > d.failures
	}
	if c.src != d.src {
		return c.src < d.src
	}
	return c.seen.Before(d.seen)
}

func (b *addrBook) remove(a netip.AddrPort) {
	if c := b.m[a]; c != nil && c.src == fromPEX {
		b.pex--
	}
	delete(b.m, a)
}

// forgetIP forgets every address of ip but those being dialled (their
// dial's end looks them up).
func (b *addrBook) forgetIP(ip netip.Addr) {
	for a, c := range b.m {
		if ipOf(a) == ip && !c.dialing {
			b.remove(a)
		}
	}
}

// due lists up to n addresses that may be dialed now, best first (see the
// rules); skip vetoes an address (a banned one). The slice is reused by
// the next call.
func (b *addrBook) due(now time.Time, n int, skip func(netip.AddrPort) bool) []netip.AddrPort {
	b.order = b.order[:0]
	if n <= 0 {
		return b.order
	}
	for a, c := range b.m {
		if c.connected || c.dialing || now.Before(c.nextTry) || skip(a) {
			continue
		}
		b.order = append(b.order, a)
	}
	slices.SortFunc(b.order, func(x, y netip.AddrPort) int {
		cx, cy := b.m[x], b.m[y]
		if c := cmp.Compare(cx.failures, cy.failures); c != 0 {
			return c
		}
		if c := cmp.Compare(cy.src, cx.src); c != 0 {
			return c
		}
		return cy.seen.Compare(cx.seen)
	})
	return b.order[:min(n, len(b.order))]
}

// fresh reports whether an address that never failed is due: worth making
// room for by dropping a useless peer (turnover.go).
func (b *addrBook) fresh(now time.Time, skip func(netip.AddrPort) bool) bool {
	for a, c := range b.m {
		if c.failures == 0 && !c.connected && !c.dialing && !now.Before(c.nextTry) && !skip(a) {
			return true
		}
	}
	return false
}
