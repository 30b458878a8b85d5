// Package choke decides which peers we upload to (BEP 3's choking), as pure
// code: the engine calls Round every RoundInterval with what it knows of its
// peers and applies the answer.
//
// The rules:
//  1. Only interested peers are unchoked; the others have nothing to take.
//  2. The interested peers are ranked: while we download, by the rate they
//     send to us (tit-for-tat); while we seed, by the rate we upload to them
//     (the peers that take data fastest spread it fastest). Snubbed peers rank
//     last. The top Slots are unchoked.
//  3. One more interested peer is unchoked optimistically: chosen at random
//     among the rest, kept for OptimisticRounds rounds, new peers three times
//     as likely (they have nothing to reciprocate with yet). This is how new
//     peers get their first pieces and how faster partners are discovered.
package choke

import (
	"math/rand/v2"
	"slices"
	"time"
)

// Timing, as in the BitTorrent protocol specification and the clients that
// followed it.
const (
	RoundInterval    = 10 * time.Second
	OptimisticRounds = 3 // the optimistic unchoke rotates every 30 s
	DefaultSlots     = 4
	newPeerWeight    = 3
)

// Peer is what the choker needs to know about one peer.
type Peer struct {
	ID           int
	Interested   bool    // the peer wants something we have
	DownloadRate float64 // bytes/s it sends us
	UploadRate   float64 // bytes/s we send it
	Snubbed      bool    // it has not sent us a block for a while
	New          bool    // connected recently
}

// Choker keeps the optimistic unchoke between rounds.
type Choker struct {
	slots      int
	rng        *rand.Rand
	optimistic int // peer ID, or -1
	roundsLeft int
}

// New returns a choker with slots regular unchoke slots.
func New(slots int, rng *rand.Rand) *Choker {
	return &Choker{slots: slots, rng: rng, optimistic: -1}
}

// Optimistic returns the current optimistic unchoke, or -1.
func (c *Choker) Optimistic() int { return c.optimistic }

// Round returns the IDs of the peers to unchoke; all others are choked.
func (c *Choker) Round(peers []Peer, seeding bool) []int {
	var ranked []Peer
	for _, p := range peers {
		if p.Interested {
			ranked = append(ranked, p)
		}
	}
	rate := func(p Peer) float64 {
		if seeding {
			return p.UploadRate
		}
		return p.DownloadRate
	}
	slices.SortStableFunc(ranked, func(a, b Peer) int {
		if a.Snubbed != b.Snubbed {
			if a.Snubbed {
				return 1
			}
			return -1
		}
		switch ra, rb := rate(a), rate(b); {
		case ra > rb:
			return -1
		case ra < rb:
			return 1
		}
		return 0
	})
	n := min(c.slots, len(ranked))
	unchoke := make([]int, 0, n+1)
	for _, p := range ranked[:n] {
		unchoke = append(unchoke, p.ID)
	}
	rest := ranked[n:]

	// Keep the optimistic unchoke while it is still among the rest.
	c.roundsLeft--
	stillThere := slices.ContainsFunc(rest, func(p Peer) bool { return p.ID == c.optimistic })
	if !stillThere || c.roundsLeft <= 0 {
		c.optimistic = c.pickOptimistic(rest)
		c.roundsLeft = OptimisticRounds
	}
	if c.optimistic >= 0 {
		unchoke = append(unchoke, c.optimistic)
	}
	return unchoke
}

// pickOptimistic chooses at random among candidates, new peers weighted.
func (c *Choker) pickOptimistic(candidates []Peer) int {
	total := 0
	for _, p := range candidates {
		total += weight(p)
	}
	if total == 0 {
		return -1
	}
	r := c.rng.IntN(total)
	for _, p := range candidates {
		if r -= weight(p); r < 0 {
			return p.ID
		}
	}
	return -1
}

func weight(p Peer) int {
	if p.New {
		return newPeerWeight
	}
	return 1
}
