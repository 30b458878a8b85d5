package fetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/btfs/btfs/wire"
)

// Reconnection back-off: a peer that failed is tried again after
// backoffBase, doubling per failure up to backoffMax.
const (
	backoffBase = 5 * time.Second
	backoffMax  = 10 * time.Minute
)

var errBadRequest = errors.New("request outside the piece")

type dialResult struct {
	addr netip.AddrPort
	err  error
}

// addCandidates remembers addresses that src named, skipping ourselves and
// banned hosts, which would only take a place in the book (addrbook.go says which are kept when the book is full).
func (t *Torrent) addCandidates(addrs []netip.AddrPort, src peerSource) {
	now := time.Now()
	dropped := 0
	for _, a := range addrs {
		if !a.IsValid() || a.Port() == 0 || t.isSelf(a) || t.isBanned(a) {
			continue
		}
		if !t.book.add(a, src, now) {
			dropped++
		}
	}
	if dropped > 0 {
		t.log.Debug("address book full: addresses dropped", "source", src, "dropped", dropped, "book", t.book.len())
	}
}

// isSelf reports whether a is our own listening address, as trackers often
// include the asker in their answers on a local swarm.
func (t *Torrent) isSelf(a netip.AddrPort) bool {
	if t.cfg.ListenPort == 0 || int(a.Port()) != t.cfg.ListenPort {
		return false
	}
	ip := a.Addr().Unmap()
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ia := range addrs {
		if n, ok := ia.(*net.IPNet); ok {
			if local, ok := netip.AddrFromSlice(n.IP); ok && local.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

// isBanned reports whether a may not be dialed.
func (t *Torrent) isBanned(a netip.AddrPort) bool { return t.bans.has(ipOf(a)) }

// dialMore starts connection attempts while there is room.
func (t *Torrent) dialMore(ctx context.Context) {
	room := min(t.cfg.MaxPeers-len(t.peers)-t.dialing, maxDialing-t.dialing)
	for _, a := range t.book.due(time.Now(), room, t.isBanned) {
		t.book.get(a).dialing = true
		t.dialing++
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			conn, err := t.dial(ctx, a)
			if err == nil {
				select {
				case t.conns <- conn:
				case <-ctx.Done():
					conn.close()
				}
			}
			select {
			case t.dialEnd <- dialResult{addr: a, err: err}:
			case <-ctx.Done():
			}
		}()
	}
}

func (t *Torrent) dialDone(r dialResult) {
	t.dialing--
	c := t.book.get(r.addr)
	if c == nil {
		return
	}
	c.dialing = false
	if r.err != nil {
		c.failed(time.Now())
		t.log.Debug("dial failed", "peer", r.addr, "err", r.err)
	}
}

// dial connects to a peer and exchanges handshakes.
func (t *Torrent) dial(ctx context.Context, a netip.AddrPort) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var nc net.Conn
	var err error
	if t.cfg.Dial != nil {
		nc, err = t.cfg.Dial(dctx, a, t.cfg.InfoHash)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(dctx, "tcp", a.String())
	}
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	ours := wire.Handshake{Reserved: t.reserved(), InfoHash: t.cfg.InfoHash, PeerID: t.cfg.PeerID}
	if err := wire.WriteHandshake(nc, ours); err != nil {
		nc.Close()
		return nil, err
	}
	theirs, err := wire.ReadHandshake(nc)
	if err == nil && theirs.InfoHash != t.cfg.InfoHash {
		err = fmt.Errorf("peer answered for torrent %s", theirs.InfoHash)
	}
	if err == nil && theirs.PeerID == t.cfg.PeerID {
		err = errors.New("connected to ourselves")
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return &conn{Conn: nc, addr: a, id: theirs.PeerID, reserved: theirs.Reserved, out: newOutbox(), cancel: func() {}}, nil
}

// Accept completes an incoming connection whose handshake has been read up
// to the info-hash (by a Listener that routed it here): it answers with our
// handshake, reads the peer's id, and hands the connection to the loop.
// It returns once the connection is handed over or refused. The caller
// bounds the handshake by a deadline on nc, which Accept clears once the
// handshake is complete.
func (t *Torrent) Accept(ctx context.Context, nc net.Conn, reserved [8]byte) {
	addr, _ := netip.ParseAddrPort(nc.RemoteAddr().String())
	if t.bans.has(ipOf(addr)) {
		t.counters.refused.Add(1) // not a word to a banned address
		nc.Close()
		return
	}
	ours := wire.Handshake{Reserved: t.reserved(), InfoHash: t.cfg.InfoHash, PeerID: t.cfg.PeerID}
	if err := wire.WriteHandshake(nc, ours); err != nil {
		nc.Close()
		return
	}
	id, err := wire.ReadPeerID(nc)
	if err != nil || id == t.cfg.PeerID {
		nc.Close()
		return
	}
	nc.SetDeadline(time.Time{})
	c := &conn{Conn: nc, addr: addr, id: id, reserved: reserved, incoming: true, out: newOutbox(), cancel: func() {}}
	select {
	case t.conns <- c:
	case <-ctx.Done():
		nc.Close()
	}
}
