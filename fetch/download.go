package fetch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/btfs/btfs/fetch/picker"
	"github.com/btfs/btfs/wire"
)

// queueDepth is how many requests to keep in flight to p, and never more
// than the peer said it accepts (BEP 10 "reqq", even below minQueue): the
// requests past it are dropped without a word, and the blocks they asked
// for would then wait in vain until the peer is snubbed.
func (p *peer) queueDepth() int {
	d := int(p.downRate.perSec * requestQueueTime.Seconds() / wire.BlockSize)
	return min(max(minQueue, min(d, maxQueue)), p.reqq)
}

// urgentSlack is how many requests past its queue depth a peer may be sent
// for reads that are blocked: a piece's worth at the usual piece sizes.
const urgentSlack = 16

// request tops up p's pipeline of requests.
func (t *Torrent) request(p *peer) {
	if p.peerChoking || !p.amInterested || p.snubbed {
		return
	}
	if t.verifying >= t.maxVerifying {
		return // storage is behind; handleVerified resumes requests
	}
	depth := p.queueDepth()
	if p.parole {
		// One piece at a time, so that what a liar sends before its next
		// failure is found is bounded by a piece.
		depth = min(depth, t.picker.NumBlocks(0))
	}
	if need := depth - len(p.inflight); need > 0 {
		t.pickBuf = t.picker.PickCapped(t.pickBuf[:0], p.id, p.has, need, t.maxFillFor(p, need))
	} else if t.picker.HasUrgent() && !p.parole {
		// A read is blocked: its blocks do not wait for a full pipeline to
		// drain, they may go past the depth by a little (never past what
		// the peer accepts).
		need = min(depth+urgentSlack, p.reqq) - len(p.inflight)
		t.pickBuf = t.picker.PickUrgent(t.pickBuf[:0], p.id, p.has, need)
	} else {
		return
	}
	now := time.Now()
	for _, b := range t.pickBuf {
		t.sendRequest(p, b, now)
		if t.filling() && t.picker.Priority(b.Piece) == picker.Normal {
			p.fillReqs[b] = struct{}{}
		}
	}
	if len(t.pickBuf) == 0 && len(p.inflight) == 0 {
		t.updateInterest(p)
	}
}

// onBlock takes a piece message: the block is kept if we asked for it and
// still need it, and a complete piece goes to the verifiers.
func (t *Torrent) onBlock(p *peer, msg wire.Message, data []byte) {
	b := picker.Block{Piece: int(msg.Index), Index: int(msg.Begin / wire.BlockSize)}
	begin, length := t.picker.BlockBounds(b)
	if _, asked := p.inflight[b]; !asked || int64(msg.Begin) != begin || int64(len(data)) != length {
		t.blocks.put(data)
		if p.cancelled > 0 {
			p.cancelled--
			return
		}
		t.counters.discarded.Add(int64(len(data)))
		if ip := ipOf(p.c.addr); t.trust.unrequested(ip) {
			t.banIP(ip, fmt.Errorf("sent more than %d blocks we did not ask for", maxUnrequested))
		}
		return
	}
	delete(p.inflight, b)
	delete(p.fillReqs, b)
	now := time.Now()
	p.lastBlock, p.snubbed = now, false
	p.downloaded += int64(len(data))
	t.downloaded.Add(int64(len(data)))

	others, complete, ok := t.picker.Received(b, p.id)
	for _, id := range others { // endgame: the other copies are no longer needed
		if q := t.peerByPickerID(id); q != nil {
			delete(q.inflight, b)
			delete(q.fillReqs, b)
			t.sendCancel(q, b)
		}
	}
	if !ok {
		t.blocks.put(data)
		t.request(p)
		return
	}
	blocks := t.pieces[b.Piece]
	if blocks == nil {
		blocks = make([][]byte, t.picker.NumBlocks(b.Piece))
		t.pieces[b.Piece] = blocks
	}
	blocks[b.Index] = data
	if complete {
		delete(t.pieces, b.Piece)
		t.verify(b.Piece, blocks)
	}
	t.request(p)
}

// sendRequest asks p for block b, which the picker has recorded as asked
// of p, and notes when.
func (t *Torrent) sendRequest(p *peer, b picker.Block, now time.Time) {
	begin, length := t.picker.BlockBounds(b)
	p.inflight[b] = now
	p.c.out.send(wire.Message{ID: wire.Request, Index: uint32(b.Piece), Begin: uint32(begin), Length: uint32(length)})
}

// sendCancel withdraws our request for b from p.
func (t *Torrent) sendCancel(p *peer, b picker.Block) {
	begin, length := t.picker.BlockBounds(b)
	p.cancelled++
	t.cancelled++
	p.c.out.send(wire.Message{ID: wire.Cancel, Index: uint32(b.Piece), Begin: uint32(begin), Length: uint32(length)})
}

// cancelPiece withdraws every request for piece i: nobody wants it any more
// (a reader seeked away), and the bandwidth goes to what is wanted now.
// Blocks already received are kept for when the piece is wanted again.
func (t *Torrent) cancelPiece(i int) {
	for p := range t.peers {
		for b := range p.inflight {
			if b.Piece == i {
				delete(p.inflight, b)
				delete(p.fillReqs, b)
				t.picker.Unrequest(b, p.id)
				t.sendCancel(p, b)
			}
		}
	}
}

func (t *Torrent) peerByPickerID(id int) *peer {
	for p := range t.peers {
		if p.id == id {
			return p
		}
	}
	return nil
}

// takeBack withdraws every request of p's without a word to it (it choked
// us, or is snubbed): the blocks go to the picker again, those that still
// arrive are no fault of p's, and the pieces it owned start over.
func (t *Torrent) takeBack(p *peer) {
	for b := range p.inflight {
		t.picker.Unrequest(b, p.id)
		delete(p.inflight, b)
		p.cancelled++
	}
	clear(p.fillReqs)
	t.freeBlocks(t.picker.Release(p.id))
}

// releaseBlocks returns a piece's block buffers to the pool.
func (t *Torrent) releaseBlocks(blocks [][]byte) {
	for _, b := range blocks {
		if b != nil {
			t.blocks.put(b)
		}
	}
}

var errSnubbed = errors.New("snubbed")

// onTick does the periodic work: rates, snubbing, topping up pipelines,
// connecting to more peers.
func (t *Torrent) onTick(ctx context.Context, now time.Time) {
	t.fillMore()
	for p := range t.peers {
		p.noteActivity(now)
		if t.isIdle(p, now) {
			t.dropPeer(p, errIdlePeer)
			continue
		}
		p.downRate.update(p.downloaded, tick)
		p.upRate.update(p.uploaded.Load(), tick)
		if len(p.inflight) > 0 && now.Sub(p.lastBlock) > t.cfg.SnubTimeout && !p.snubbed {
			// Its requests go to others; it may earn them back by sending.
			p.snubbed = true
			t.takeBack(p)
			t.log.Debug("peer snubbed", "peer", p.c.addr)
		}
		if p.snubbed && now.Sub(p.lastBlock) > 3*t.cfg.SnubTimeout {
			t.dropPeer(p, errSnubbed)
			continue
		}
		if p.snubbed && len(p.inflight) == 0 && !p.peerChoking && p.amInterested {
			// One request at a time lets a snubbed peer prove itself.
			t.pickBuf = t.picker.Pick(t.pickBuf[:0], p.id, p.has, 1)
			for _, b := range t.pickBuf {
				t.sendRequest(p, b, now)
			}
		}
		t.request(p)
	}
	t.reassignLateUrgent(now)
	t.turnover(now)
	t.dialMore(ctx)
}

// urgentLate is how long a block that a read waits for may stay with one
// peer before another peer that has it is asked instead: far beyond a
// round trip and a full pipeline at any useful rate, far below the snub
// timeout a read would otherwise wait out.
const urgentLate = 2 * time.Second

// reassignLateUrgent moves the late blocks of pieces that reads wait for
// from the peers that sit on them to the fastest other unchoked peer that
// has the piece and room in its pipeline.
func (t *Torrent) reassignLateUrgent(now time.Time) {
	if !t.picker.HasUrgent() {
		return
	}
	for p := range t.peers {
		for b, at := range p.inflight {
			if now.Sub(at) < urgentLate || t.picker.Priority(b.Piece) != picker.Urgent {
				continue
			}
			q := t.anotherHolder(p, b.Piece)
			if q == nil || !t.picker.Reassign(b, p.id, q.id) {
				continue
			}
			delete(p.inflight, b)
			delete(p.fillReqs, b)
			t.sendCancel(p, b)
			t.sendRequest(q, b, now)
		}
	}
}

// anotherHolder returns the fastest peer other than p that has piece i,
// lets us download, and accepts another request; nil if there is none.
func (t *Torrent) anotherHolder(p *peer, i int) *peer {
	var best *peer
	for q := range t.peers {
		if q == p || q.peerChoking || !q.amInterested || q.snubbed || !q.has.Has(i) || len(q.inflight) >= q.reqq {
			continue
		}
		if best == nil || q.downRate.perSec > best.downRate.perSec {
			best = q
		}
	}
	return best
}
