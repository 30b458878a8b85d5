package fetch

import (
	"context"
	"net/netip"

	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

// DHT is what a torrent needs of a DHT node (BEP 5); *dht.Node has these
// methods, and cmd/btfs passes one node to every torrent of a process. It
// is declared here so that fetch does not depend on the dht package.
type DHT interface {
	// Announce keeps infoHash looked up, and announced with port (0: only
	// looked up), until ctx ends, handing the peers it finds to onPeers.
	Announce(ctx context.Context, infoHash metainfo.Hash, port int, onPeers func([]netip.AddrPort)) error
	// Ping asks the DHT node at addr to answer; an answer puts it in the
	// routing table.
	Ping(ctx context.Context, addr netip.AddrPort) error
	// Addr is the node's UDP address: its port goes to peers in PORT
	// messages.
	Addr() netip.AddrPort
}

// maxPendingPings bounds the PORT messages waiting for their ping: one
// pinger pings them in turn (each takes at most the DHT's query timeout),
// and PORT messages past the bound are ignored, so peers cannot make us
// flood their nodes.
const maxPendingPings = 16

// useDHT reports whether the torrent uses the DHT: one is configured and
// the torrent is not private (BEP 27: private torrents use their trackers
// only).
func (t *Torrent) useDHT() bool { return t.cfg.DHT != nil && !t.info.Private }

// reserved returns the reserved bits of our handshake: BEP 10's always,
// BEP 5's when the torrent uses the DHT.
func (t *Torrent) reserved() [8]byte {
	r := wire.DefaultReserved()
	if t.useDHT() {
		r = wire.WithDHT(r)
	}
	return r
}

// startDHT keeps the torrent announced on the DHT, its peers going to the
// loop as a tracker's do, and starts the pinger of the DHT nodes peers name
// in PORT messages; both are goroutines owned by Run that end with ctx.
func (t *Torrent) startDHT(ctx context.Context) {
	if !t.useDHT() {
		return
	}
	t.pings = make(chan netip.AddrPort, maxPendingPings)
	t.wg.Go(func() {
		err := t.cfg.DHT.Announce(ctx, t.cfg.InfoHash, t.cfg.ListenPort, func(addrs []netip.AddrPort) {
			t.log.Debug("dht: peers", "count", len(addrs))
			t.addPeersFrom(ctx, addrs, fromDHT)
		})
		if ctx.Err() == nil { // the node closed before the torrent stopped
			t.log.Warn("dht: announces stopped", "err", err)
		}
	})
	t.wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case a := <-t.pings:
				if err := t.cfg.DHT.Ping(ctx, a); err != nil {
					t.log.Debug("dht: a peer's node did not answer", "node", a, "err", err)
				}
			}
		}
	})
}

// sendPort tells a peer that runs a DHT node where ours listens (BEP 5).
func (t *Torrent) sendPort(c *conn) {
	if !t.useDHT() || !(wire.Handshake{Reserved: c.reserved}).SupportsDHT() {
		return
	}
	if port := t.cfg.DHT.Addr().Port(); port != 0 {
		c.out.send(wire.Message{ID: wire.Port, Port: port})
	}
}

// onPort takes a peer's PORT message: its DHT node, at the peer's IP and
// that port, is pinged once per connection, so that it may join our
// routing table.
func (t *Torrent) onPort(p *peer, port uint16) {
	if !t.useDHT() || p.pinged || port == 0 {
		return
	}
	p.pinged = true
	select {
	case t.pings <- netip.AddrPortFrom(p.c.addr.Addr(), port):
	default: // the pinger is busy: this node may come another time
	}
}
