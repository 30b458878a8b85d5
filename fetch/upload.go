package fetch

import (
	"time"

	"github.com/btfs/btfs/fetch/choke"
	"github.com/btfs/btfs/wire"
)

// onRequest queues a block for upload if the peer may have it.
func (t *Torrent) onRequest(p *peer, msg wire.Message) {
	i := int(msg.Index)
	if p.amChoking || !t.picker.Have(i) {
		return // BEP 3: requests while choked are dropped
	}
	if int64(msg.Begin)+int64(msg.Length) > t.picker.PieceSize(i) {
		t.dropPeer(p, errBadRequest)
		return
	}
	p.c.out.queueUpload(upload{piece: i, begin: msg.Begin, length: msg.Length})
}

// chokeRound applies the choking algorithm to every peer.
func (t *Torrent) chokeRound() {
	now := time.Now()
	stats := make([]choke.Peer, 0, len(t.peers))
	byID := make(map[int]*peer, len(t.peers))
	for p := range t.peers {
		byID[p.id] = p
		stats = append(stats, choke.Peer{
			ID: p.id, Interested: p.peerInterested, Snubbed: p.snubbed,
			DownloadRate: p.downRate.perSec, UploadRate: p.upRate.perSec,
			New: now.Sub(p.connectedAt) < time.Minute,
		})
	}
	unchoke := map[int]bool{}
	for _, id := range t.choker.Round(stats, t.picker.Complete()) {
		unchoke[id] = true
	}
	for p := range t.peers {
		t.setChoking(p, !unchoke[p.id])
	}
}

// maybeUnchokeNew runs a choke round at once when an interested peer is
// waiting and an upload slot is free, instead of making it wait up to a
// whole round. A slot held by a peer that is no longer interested (one that
// completed, or got what it wanted elsewhere) counts as free.
func (t *Torrent) maybeUnchokeNew() {
	unchoked, waiting := 0, false
	for p := range t.peers {
		switch {
		case !p.amChoking && p.peerInterested:
			unchoked++
		case p.amChoking && p.peerInterested:
			waiting = true
		}
	}
	if waiting && unchoked < t.cfg.UnchokeSlots+1 {
		t.chokeRound()
	}
}

func (t *Torrent) setChoking(p *peer, v bool) {
	if p.amChoking == v {
		return
	}
	p.amChoking = v
	if v {
		p.c.out.dropUploads()
		p.c.out.send(wire.Message{ID: wire.Choke})
	} else {
		p.c.out.send(wire.Message{ID: wire.Unchoke})
	}
}
