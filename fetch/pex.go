package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/btfs/btfs/wire"
)

// Peer exchange (BEP 11, ut_pex): connected peers tell each other whom else
// they are connected to. Rules:
//
//   - Private torrents (BEP 27) neither advertise ut_pex nor read it.
//   - Sending: every PexInterval the loop looks for peers that offered
//     ut_pex and are due a message (wire.PexState: the first at once, then
//     at most one a wire.PexInterval, only changes, never an empty one). A
//     message lists the connected peers we know an address to connect to:
//     those we dialed (flagged reachable) and those that connected to us
//     and named their listening port; peers whose bitfield is full are
//     flagged seed.
//   - Receiving: added peers become candidates, as a tracker's answer
//     does (dropped peers are ignored: others may still reach them); while
//     we have every piece, seeds are skipped. A message sooner than
//     pexMinGap after the last one taken from the peer is ignored, and a
//     peer that sends maxPexEarly of those in a row is dropped, as is one
//     whose message breaks BEP 11.
const (
	// DefaultPexInterval is how often the loop looks for peers due a PEX
	// message: a new peer hears from us within this of its extension
	// handshake, which gives the connections made together at start-up
	// time to be listed in one message.
	DefaultPexInterval = 5 * time.Second
	// pexLocalID is the ExtendedID we ask peers to send ut_pex messages
	// with (libtorrent's; ut_metadata has metadata.LocalExtendedID, 2).
	pexLocalID = 1
	// pexMinGap is the least time between two ut_pex messages taken from a
	// peer: BEP 11 allows one a minute; the rest is slack for timers.
	pexMinGap = 45 * time.Second
	// maxPexEarly is how many early messages in a row make a flood.
	maxPexEarly = 10
)

// errPexFlood drops a peer that sends ut_pex messages far too often.
var errPexFlood = errors.New("floods ut_pex messages")

// usePEX reports whether the torrent exchanges peers: public torrents only.
func (t *Torrent) usePEX() bool { return !t.info.Private }

// startPex runs the PEX timer on a goroutine owned by Run: every
// PexInterval it has the loop send the messages that are due.
func (t *Torrent) startPex(ctx context.Context) {
	if !t.usePEX() {
		return
	}
	every := t.cfg.PexInterval
	if every <= 0 {
		every = DefaultPexInterval
	}
	t.wg.Go(func() {
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				if t.do(ctx, func() { t.sendPex(time.Now()) }) != nil {
					return
				}
			}
		}
	})
}

// onPexOffer takes the ut_pex entry of a peer's extension handshake: ID 0
// turns it off.
func (t *Torrent) onPexOffer(p *peer, id int) {
	if !t.usePEX() {
		return
	}
	p.utPex = uint8(id)
	switch {
	case id == 0:
		p.pex = nil
	case p.pex == nil:
		remote, ok := pexAddr(p)
		if !ok {
			remote = p.c.addr
		}
		p.pex = &wire.PexState{Remote: remote}
	}
}

// pexAddr is the address other peers can reach p at: the one we dialed, or
// its IP and the listening port it named; false if we know none.
func pexAddr(p *peer) (netip.AddrPort, bool) {
	if !p.c.incoming {
		return p.c.addr, true
	}
	if p.listenPort > 0 {
		return netip.AddrPortFrom(p.c.addr.Addr(), uint16(p.listenPort)), true
	}
	return netip.AddrPort{}, false
}

// pexPeers lists the connected peers as PEX advertises them.
func (t *Torrent) pexPeers() []wire.PexPeer {
	out := make([]wire.PexPeer, 0, len(t.peers))
	for p := range t.peers {
		a, ok := pexAddr(p)
		if !ok {
			continue
		}
		var f wire.PexFlags
		if !p.c.incoming {
			f |= wire.PexReachable
		}
		if p.has.Full() {
			f |= wire.PexSeed
		}
		out = append(out, wire.PexPeer{Addr: a, Flags: f})
	}
	return out
}

// sendPex sends a PEX message to each peer that is due one.
func (t *Torrent) sendPex(now time.Time) {
	var connected []wire.PexPeer
	listed := false
	for p := range t.peers {
		if p.pex == nil || p.utPex == 0 || now.Before(p.pex.NextAt()) {
			continue
		}
		if !listed {
			connected, listed = t.pexPeers(), true
		}
		m, ok := p.pex.Next(now, connected)
		if !ok {
			continue
		}
		payload, err := m.Encode()
		if err != nil { // Next makes only valid messages
			t.log.Warn("pex: cannot encode", "err", err)
			continue
		}
		p.c.out.send(wire.Message{ID: wire.Extended, ExtendedID: p.utPex, Payload: payload})
	}
}

// onPexMessage takes a peer's ut_pex message (see the rules above).
func (t *Torrent) onPexMessage(p *peer, payload []byte) {
	now := time.Now()
	if !p.pexLast.IsZero() && now.Sub(p.pexLast) < pexMinGap {
		if p.pexEarly++; p.pexEarly >= maxPexEarly {
			t.dropPeer(p, errPexFlood)
		}
		return
	}
	m, err := wire.ParsePexMessage(payload)
	if err != nil {
		t.dropPeer(p, fmt.Errorf("ut_pex: %w", err))
		return
	}
	p.pexLast, p.pexEarly = now, 0
	complete := t.picker.HaveCount() == t.info.NumPieces()
	addrs := make([]netip.AddrPort, 0, len(m.Added))
	for _, a := range m.Added {
		if complete && a.Flags&wire.PexSeed != 0 {
			continue // a seed has nothing for us
		}
		addrs = append(addrs, a.Addr)
	}
	before := t.book.len()
	t.addCandidates(addrs, fromPEX)
	t.log.Debug("pex: peers", "from", p.c.addr, "added", len(m.Added), "dropped", len(m.Dropped),
		"new", t.book.len()-before)
}
