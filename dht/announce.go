package dht

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	anacrolix "github.com/anacrolix/dht/v2"
	"github.com/btfs/btfs/metainfo"
)

// LookupStats says how one lookup went.
type LookupStats struct {
	// Queried and Responded count the nodes asked, and those that answered.
	Queried, Responded int
	// Peers counts the distinct peers passed to onPeers.
	Peers int
}

// Lookup runs one get_peers traversal for infoHash: it asks the nodes
// closest to the info-hash for peers, passing each batch of new ones to
// onPeers (on the calling goroutine), and with a port of 1 to 65535 then
// announces that port (announce_peer) to the closest nodes that answered.
// Port 0 only looks. It returns when the traversal and the announces are
// done, or when ctx ends or the node closes (then with ctx.Err() or
// ErrClosed). It waits for the node's first join.
//
// The DHT is for public torrents only: a private torrent (BEP 27) must not
// be looked up or announced here; that check is the caller's.
func (n *Node) Lookup(ctx context.Context, infoHash metainfo.Hash, port int, onPeers func([]netip.AddrPort)) (LookupStats, error) {
	var st LookupStats
	if !n.track() {
		return st, ErrClosed
	}
	defer n.wg.Done()
	select {
	case <-n.bootstrapped:
	case <-ctx.Done():
		return st, ctx.Err()
	case <-n.ctx.Done():
		return st, ErrClosed
	}
	var opts []anacrolix.AnnounceOpt
	if port > 0 && port <= 65535 {
		opts = append(opts, anacrolix.AnnouncePeer(anacrolix.AnnouncePeerOpts{Port: port}))
	}
	a, err := n.srv.AnnounceTraversal(infoHash, opts...)
	if err != nil {
		// No node to start from: none known, no bootstrap node.
		return st, nil
	}
	seen := make(map[netip.AddrPort]struct{})
	peers := a.Peers
	for peers != nil {
		select {
		case pv, ok := <-peers:
			if !ok {
				peers = nil
				break
			}
			var batch []netip.AddrPort
			for _, p := range pv.Peers {
				ap, ok := toAddrPort(p)
				if _, dup := seen[ap]; !ok || dup {
					continue
				}
				seen[ap] = struct{}{}
				batch = append(batch, ap)
			}
			if len(batch) > 0 {
				onPeers(batch)
			}
		case <-ctx.Done():
			err = ctx.Err()
			stop(a)
			peers = nil
		case <-n.ctx.Done():
			err = ErrClosed
			stop(a)
			peers = nil
		}
	}
	ts := a.TraversalStats() // safe: the traversal has stopped
	st.Queried, st.Responded, st.Peers = int(ts.NumAddrsTried), int(ts.NumResponses), len(seen)
	return st, err
}

// stop ends a traversal early and waits until its goroutines are done: the
// library closes Peers last.
func stop(a *anacrolix.Announce) {
	a.Close()
	for range a.Peers {
	}
}

// Announce keeps infoHash looked up (and, with a port, announced) until ctx
// ends or the node closes: a Lookup every AnnounceInterval (±10%), sooner
// after a round that reached no node (from the retry delay, doubling). It
// returns ctx.Err() or ErrClosed. See Lookup for port, onPeers and private
// torrents.
func (n *Node) Announce(ctx context.Context, infoHash metainfo.Hash, port int, onPeers func([]netip.AddrPort)) error {
	retry := n.cfg.retryDelay
	for {
		st, err := n.Lookup(ctx, infoHash, port, onPeers)
		if err != nil {
			return err
		}
		wait := jitter(n.cfg.AnnounceInterval)
		if st.Responded == 0 {
			wait, retry = retry, min(2*retry, n.cfg.AnnounceInterval)
		} else {
			retry = n.cfg.retryDelay
		}
		n.log.Debug("dht: lookup", "info_hash", infoHash, "queried", st.Queried, "responded", st.Responded,
			"peers", st.Peers, "next", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-n.ctx.Done():
			t.Stop()
			return ErrClosed
		}
	}
}

// Ping asks the node at addr to answer, for a peer's BEP 5 PORT message (its
// IP, the port it names): an answer puts the node in the routing table. It
// returns when the node answers, QueryTimeout passes, ctx ends or the node
// closes.
func (n *Node) Ping(ctx context.Context, addr netip.AddrPort) error {
	if !n.track() {
		return ErrClosed
	}
	defer n.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer context.AfterFunc(n.ctx, cancel)()
	defer cancel()
	to := anacrolix.NewAddr(net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())))
	res := n.srv.Query(ctx, to, "ping", anacrolix.QueryInput{})
	if res.Err != nil {
		return fmt.Errorf("dht: ping %v: %w", addr, res.Err)
	}
	if res.Reply.Y != "r" {
		return fmt.Errorf("dht: ping %v: answered %v", addr, res.Reply.Error())
	}
	return nil
}

// jitter returns d ± 10%, so that torrents started together spread out.
func jitter(d time.Duration) time.Duration {
	return d - d/10 + rand.N(d/5+1)
}
