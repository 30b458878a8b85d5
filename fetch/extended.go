package fetch

import (
	"errors"
	"fmt"
	"time"

	"github.com/btfs/btfs/fetch/metadata"
	"github.com/btfs/btfs/wire"
)

// Serving the metadata (BEP 9). Peers that came by a magnet link ask us for
// the info dictionary, piece by piece, before they can ask for anything
// else. Each peer gets a budget: metadataBurst pieces at once (most info
// dictionaries whole: a 4 GiB torrent of 256 KiB pieces has 20 pieces of
// metadata), then metadataRate a second. A request past the budget gets a
// reject, which tells an honest client to ask elsewhere; a peer that keeps
// asking after maxMetadataRefusals rejects is dropped. So a peer asking in a
// loop costs us at most metadataRate pieces a second, and what its outbox
// can hold is bounded by what it sends us.
const (
	metadataBurst       = 32
	metadataRate        = 8 // pieces a second: 128 KiB/s
	maxMetadataRefusals = 64
)

// metadataBudget is one peer's token bucket of metadata pieces; the zero
// value is full. The loop owns it.
type metadataBudget struct {
	used    float64 // pieces sent, draining at metadataRate a second
	at      time.Time
	refused int
}

// take spends one piece of the budget at now; false when none is left.
func (b *metadataBudget) take(now time.Time) bool {
	if !b.at.IsZero() {
		b.used = max(0, b.used-now.Sub(b.at).Seconds()*metadataRate)
	}
	b.at = now
	if b.used+1 > metadataBurst {
		return false
	}
	b.used++
	return true
}

// errMetadataFlood drops a peer that keeps asking past its budget.
var errMetadataFlood = errors.New("keeps asking for metadata past its budget")

// onExtended applies a BEP 10 message: the peer's extension handshake, or a
// ut_metadata or ut_pex message sent with the ID we advertised.
func (t *Torrent) onExtended(p *peer, msg wire.Message) {
	switch msg.ExtendedID {
	case wire.ExtendedHandshakeID:
		hs, err := wire.ParseExtendedHandshake(msg.Payload)
		if err != nil {
			return // its extensions stay as they were; the rest of BitTorrent works
		}
		if hs.ReqQ > 0 {
			p.reqq = min(hs.ReqQ, maxQueue)
		}
		// BEP 10: m is additive; a later handshake names only what
		// changed, and ID 0 turns an extension off.
		if id, ok := hs.M[wire.MetadataExtension]; ok {
			p.utMetadata = uint8(id)
		}
		if hs.Port > 0 {
			p.listenPort = hs.Port
		}
		if id, ok := hs.M[wire.PexExtension]; ok {
			t.onPexOffer(p, id)
		}
	case metadata.LocalExtendedID:
		if len(t.cfg.InfoBytes) > 0 { // otherwise we never advertised it
			t.onMetadataMessage(p, msg.Payload)
		}
	case pexLocalID:
		if t.usePEX() { // otherwise we never advertised it
			t.onPexMessage(p, msg.Payload)
		}
	}
}

// onMetadataMessage answers a peer's ut_metadata request through its
// outbox, with its own ID for the extension. We never ask engine peers for
// metadata, so their data and reject messages are ignored; a message that
// breaks BEP 9 ends the connection, as any protocol error does.
func (t *Torrent) onMetadataMessage(p *peer, payload []byte) {
	info := t.cfg.InfoBytes
	m, err := wire.ParseMetadataMessage(payload, len(info))
	if err != nil {
		t.dropPeer(p, fmt.Errorf("ut_metadata: %w", err))
		return
	}
	if m.Type != wire.MetadataRequest || p.utMetadata == 0 {
		return // nothing asked, or no ID to answer with
	}
	if !p.meta.take(time.Now()) {
		if p.meta.refused++; p.meta.refused > maxMetadataRefusals {
			t.dropPeer(p, errMetadataFlood)
			return
		}
		info = nil // Serve rejects the request
	}
	reply, err := metadata.Serve(info, payload)
	if err != nil || reply == nil {
		return // parsed above: cannot fail
	}
	p.c.out.send(wire.Message{ID: wire.Extended, ExtendedID: p.utMetadata, Payload: reply})
}
