package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/btfs/btfs/fetch/metadata"
	"github.com/btfs/btfs/fetch/picker"
	"github.com/btfs/btfs/internal/bitfield"
	"github.com/btfs/btfs/wire"
)

// Request pipelining: how much to keep in flight per peer. The depth follows
// the peer's rate so that requestQueueTime worth of data is always asked for
// (a fast loopback peer gets hundreds of requests, a slow one a few).
const (
	minQueue         = 16
	maxQueue         = 500
	requestQueueTime = 2 * time.Second
)

// peer is the loop's view of one connection. Fields are owned by the loop,
// except the atomic counter that the writer goroutine updates.
type peer struct {
	id  int // the picker's name for this peer
	c   *conn
	has bitfield.Bitfield

	amChoking, amInterested     bool
	peerChoking, peerInterested bool
	snubbed                     bool

	inflight    map[picker.Block]time.Time // our requests, not yet answered
	fillReqs    map[picker.Block]struct{}  // those of them for the background fill (fill.go)
	lastBlock   time.Time
	connectedAt time.Time
	reqq        int // how many requests the peer accepts (extension handshake)
	// cancelled counts blocks we cancelled (or that a choke or a snub took
	// back) that may still arrive: a peer may have sent them before it
	// read the cancel, and those are no fault.
	cancelled int
	// parole: its address is on parole (trust.go): one piece at a time,
	// of its own.
	parole bool
	// utMetadata is the ExtendedID the peer wants ut_metadata messages
	// with (its extension handshake's m), 0 when it does not speak it;
	// meta bounds the metadata we send it (extended.go).
	utMetadata uint8
	meta       metadataBudget
	// listenPort is the port the peer accepts connections on (its
	// extension handshake's p), 0 if it did not say.
	listenPort int
	// PEX (pex.go): utPex is the ExtendedID the peer wants ut_pex messages
	// with, 0 when it does not speak it; pex is what we told it (nil
	// then); pexLast and pexEarly pace the messages it sends us.
	utPex    uint8
	pex      *wire.PexState
	pexLast  time.Time
	pexEarly int
	// pinged: its DHT node, named by a PORT message, was pinged (dht.go).
	pinged bool

	// activeAt is when either side was last interested or data last moved,
	// dataAt when data last moved (turnover.go).
	activeAt, dataAt time.Time

	downloaded       int64        // loop-owned
	uploaded         atomic.Int64 // written by the writer goroutine
	downRate, upRate meter
}

// addConn starts a handshaken connection's goroutines and greets the peer.
func (t *Torrent) addConn(ctx context.Context, c *conn) {
	now := time.Now()
	if t.byID[c.id] != nil || t.admit(c) != nil || !t.makeRoom(c, now) {
		c.close()
		return
	}
	p := &peer{
		id: t.nextPeerID, c: c, has: bitfield.New(t.info.NumPieces()),
		amChoking: true, peerChoking: true,
		inflight: map[picker.Block]time.Time{}, fillReqs: map[picker.Block]struct{}{}, connectedAt: now, lastBlock: now, reqq: maxQueue,
		activeAt: now, dataAt: now,
	}
	t.nextPeerID++
	if p.parole = t.trust.onParole(ipOf(c.addr)); p.parole {
		t.picker.SetParole(p.id, true)
	}
	t.addrOf[p.id] = c.addr
	t.peers[p] = struct{}{}
	t.byID[c.id] = p
	if cand := t.book.get(c.addr); cand != nil {
		cand.connected = true
	}
	pctx, cancel := context.WithCancel(ctx)
	c.cancel = cancel
	t.wg.Add(2)
	go func() { defer t.wg.Done(); t.readLoop(pctx, p, wire.NewReader(c, t.info.NumPieces())) }()
	go func() { defer t.wg.Done(); t.writeLoop(pctx, p, wire.NewWriter(c)) }()

	if (wire.Handshake{Reserved: c.reserved}).SupportsExtensions() {
		hs := wire.ExtendedHandshake{M: map[string]int{}, Port: t.cfg.ListenPort, Version: "btfs", ReqQ: maxUploadQueue}
		if len(t.cfg.InfoBytes) > 0 {
			metadata.Advertise(&hs, len(t.cfg.InfoBytes))
		}
		if t.usePEX() {
			hs.M[wire.PexExtension] = pexLocalID
		}
		if payload, err := hs.Encode(); err == nil {
			c.out.send(wire.Message{ID: wire.Extended, ExtendedID: 0, Payload: payload})
		}
	}
	if t.picker.HaveCount() > 0 {
		c.out.send(wire.Message{ID: wire.Bitfield, Bitfield: t.picker.Bitfield().Bytes()})
	}
	t.sendPort(c)
	t.log.Debug("peer connected", "peer", c.addr, "incoming", c.incoming, "peers", len(t.peers))
	t.maybeUnchokeNew()
}

// dropPeer closes a peer and gives its requests back to the picker.
func (t *Torrent) dropPeer(p *peer, why error) {
	if _, ok := t.peers[p]; !ok {
		return
	}
	p.c.close()
	delete(t.peers, p)
	if t.byID[p.c.id] == p {
		delete(t.byID, p.c.id)
	}
	for b := range p.inflight {
		t.picker.Unrequest(b, p.id)
	}
	t.freeBlocks(t.picker.Release(p.id))
	t.picker.SetParole(p.id, false)
	if len(p.inflight) > 0 {
		t.requestAll() // its requests go to the others now, not at the next tick
	}
	t.picker.PeerGone(p.has)
	if !t.picker.SentAny(p.id) {
		delete(t.addrOf, p.id) // nothing of it left to blame
	}
	if cand := t.book.get(p.c.addr); cand != nil {
		cand.connected = false
		cand.failed(time.Now())
	}
	if !p.amChoking {
		t.maybeUnchokeNew() // its upload slot is free
	}
	t.log.Log(context.Background(), levelFor(why), "peer gone", "peer", p.c.addr, "err", why)
}

// handlePeerMsg applies one message from a peer.
func (t *Torrent) handlePeerMsg(m peerMsg) {
	p := m.p
	if _, ok := t.peers[p]; !ok {
		if m.block != nil {
			t.blocks.put(m.block)
		}
		return
	}
	if m.err != nil {
		t.dropPeer(p, m.err)
		return
	}
	msg := m.msg
	switch msg.ID {
	case wire.Choke:
		p.peerChoking = true
		if len(p.inflight) > 0 {
			t.takeBack(p)  // BEP 3: a choke discards our requests
			t.requestAll() // others take them now, not at the next tick
		}
	case wire.Unchoke:
		p.peerChoking = false
		t.request(p)
	case wire.Interested:
		p.peerInterested = true
		t.maybeUnchokeNew()
	case wire.NotInterested:
		p.peerInterested = false
		t.maybeUnchokeNew() // its slot may go to a peer that is waiting
	case wire.Have:
		t.onHave(p, int(msg.Index))
	case wire.Bitfield:
		t.onBitfield(p, msg.Bitfield)
	case wire.Request:
		t.onRequest(p, msg)
	case wire.Cancel:
		p.c.out.cancelUpload(upload{piece: int(msg.Index), begin: msg.Begin, length: msg.Length})
	case wire.Piece:
		t.onBlock(p, msg, m.block)
	case wire.Extended:
		t.onExtended(p, msg)
	case wire.Port:
		t.onPort(p, msg.Port)
	}
}

func (t *Torrent) onHave(p *peer, i int) {
	if p.has.Has(i) {
		return
	}
	p.has.Set(i)
	t.picker.PeerHave(i)
	if !p.amInterested && !t.picker.Have(i) {
		t.setInterested(p, true)
	}
	t.request(p)
}

// onBitfield takes a peer's bitfield. BEP 3 sends it first or not at all,
// but real clients do not always: aria2, which skips the bitfield while it
// has nothing, sends one after HAVEs once it has pieces (and libtorrent
// accepts that). A late bitfield therefore adds to what we know of the peer
// (a peer never loses pieces) instead of ending the connection.
func (t *Torrent) onBitfield(p *peer, b []byte) {
	bf, err := bitfield.FromBytes(b, t.info.NumPieces())
	if err != nil {
		t.dropPeer(p, fmt.Errorf("bad bitfield: %w", err))
		return
	}
	if p.has.Count() == 0 {
		p.has = bf
		t.picker.PeerBitfield(bf)
	} else {
		for i := range t.info.NumPieces() {
			if bf.Has(i) && !p.has.Has(i) {
				p.has.Set(i)
				t.picker.PeerHave(i)
			}
		}
	}
	t.updateInterest(p)
	t.request(p)
}

// updateInterest tells the peer whether it has anything we want. A mount
// (which wants pieces only as they are read) stays interested in every peer
// that has a piece it lacks: a peer that sees us lose interest chokes us,
// and unchokes again only at its next choke round, up to 10 s later, which
// the next read would wait out.
func (t *Torrent) updateInterest(p *peer) {
	interested := false
	for i := range t.info.NumPieces() {
		if p.has.Has(i) && !t.picker.Have(i) {
			interested = true
			break
		}
	}
	t.setInterested(p, interested)
}

func (t *Torrent) setInterested(p *peer, v bool) {
	if p.amInterested == v {
		return
	}
	p.amInterested = v
	id := wire.NotInterested
	if v {
		id = wire.Interested
	}
	p.c.out.send(wire.Message{ID: id})
}

// levelFor logs ordinary disconnections at debug level, protocol
// violations and bans at info.
func levelFor(err error) slog.Level {
	var ne net.Error
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.As(err, &ne):
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
