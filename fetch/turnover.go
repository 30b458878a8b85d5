package fetch

import (
	"errors"
	"time"
)

// Peer turnover: slots go to peers that are of use. Rules:
//
//   - A peer that for IdlePeerTimeout has had nothing we want and wanted
//     nothing of ours (neither side interested, no data either way) is
//     dropped. Two seeds part this way, as do peers that only keep alive.
//   - Incoming connections hold at most MaxPeers - MaxPeers/outgoingShare
//     slots; the rest are for peers we dial, so that connections anyone
//     can open cannot keep us from the peers trackers name.
//   - A new connection that finds no room takes the slot of the least
//     useful peer, if there is one: a peer that has exchanged no data
//     either way for the replacement grace (IdlePeerTimeout/4, and at
//     least that long connected); idle peers go first, then the one whose
//     data stopped longest ago. An incoming connection over the incoming
//     share takes an incoming peer's slot. Otherwise it is refused.
//   - While every slot is taken and an address that never failed is due a
//     dial, one such useless peer a tick is dropped to make room for it.
const (
	// DefaultIdlePeerTimeout: a minute leaves room for a peer's bitfield
	// and first HAVEs, and for a mount's reader to pause, and frees a slot
	// held by a peer of no use within the time a download is worth
	// watching.
	DefaultIdlePeerTimeout = time.Minute
	// outgoingShare: 1/outgoingShare of MaxPeers (12 of the default 60)
	// is kept for connections we dial.
	outgoingShare = 5
)

var (
	errIdlePeer = errors.New("idle: neither side wanted anything of the other")
	errReplaced = errors.New("replaced: no data exchanged, and another peer needs the slot")
)

// noteActivity records, once a tick before the rate meters take the new
// totals, when the peer was last of use.
func (p *peer) noteActivity(now time.Time) {
	if p.downloaded != p.downRate.last || p.uploaded.Load() != p.upRate.last {
		p.dataAt, p.activeAt = now, now
	}
	if p.amInterested || p.peerInterested {
		p.activeAt = now
	}
}

// isIdle reports whether p has been of no use for IdlePeerTimeout.
func (t *Torrent) isIdle(p *peer, now time.Time) bool {
	return now.Sub(p.activeAt) > t.cfg.IdlePeerTimeout
}

// makeRoom reports whether c may join, dropping the least useful peer to
// make room if it must and can.
func (t *Torrent) makeRoom(c *conn, now time.Time) bool {
	incoming := 0
	for p := range t.peers {
		if p.c.incoming {
			incoming++
		}
	}
	switch {
	case c.incoming && incoming >= t.cfg.MaxPeers-t.cfg.MaxPeers/outgoingShare:
		return t.replace(now, true)
	case len(t.peers) >= t.cfg.MaxPeers:
		return t.replace(now, false)
	}
	return true
}

// replace drops the least useful peer (an incoming one if onlyIncoming);
// false if no peer may go.
func (t *Torrent) replace(now time.Time, onlyIncoming bool) bool {
	grace := t.cfg.IdlePeerTimeout / 4
	var victim *peer
	for p := range t.peers {
		if onlyIncoming && !p.c.incoming || now.Sub(p.dataAt) < grace {
			continue
		}
		if victim == nil || replaceFirst(p, victim) {
			victim = p
		}
	}
	if victim == nil {
		return false
	}
	t.dropPeer(victim, errReplaced)
	return true
}

// replaceFirst reports whether p is less useful than q.
func replaceFirst(p, q *peer) bool {
	pIdle := !p.amInterested && !p.peerInterested
	qIdle := !q.amInterested && !q.peerInterested
	if pIdle != qIdle {
		return pIdle
	}
	return p.dataAt.Before(q.dataAt)
}

// turnover, once a tick, frees a slot for a fresh address when every slot
// is taken.
func (t *Torrent) turnover(now time.Time) {
	if len(t.peers) < t.cfg.MaxPeers || t.dialing > 0 || !t.book.fresh(now, t.isBanned) {
		return
	}
	t.replace(now, false)
}
