package dht

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	anacrolix "github.com/anacrolix/dht/v2"
)

// maintain owns the node's upkeep until Close: the first join, the
// library's table maintainer (pings questionable nodes, refreshes buckets,
// bootstraps again every 30 minutes), a rejoin through the bootstrap nodes
// whenever no good node is left, and the periodic save of the state file.
func (n *Node) maintain() {
	defer n.wg.Done()
	n.join()
	close(n.bootstrapped)
	check := time.NewTicker(rejoinCheck)
	defer check.Stop()
	save := time.NewTicker(saveInterval)
	defer save.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-check.C:
			if n.srv.Stats().GoodNodes == 0 {
				n.join()
			} else {
				n.startTableMaintainer()
			}
		case <-save.C:
			n.save()
		}
	}
}

// startTableMaintainer starts the library's table maintainer once the
// routing table has a node. Before that its bootstraps would fail, and each
// failed bootstrap leaks a goroutine in the library (v2.23.0: BootstrapContext
// returns without stopping its traversal when there is no node to start
// from); once there is one, there always is (the table only replaces nodes).
// The maintainer returns once the Server is closed, which Close does before
// it waits.
func (n *Node) startTableMaintainer() {
	if n.srv.NumNodes() == 0 || n.ctx.Err() != nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.maintaining || n.closed {
		return
	}
	n.maintaining = true
	n.wg.Go(n.srv.TableMaintainer)
}

// join resolves the bootstrap nodes, pings them unless the routing table
// (loaded from the state file) has enough good nodes, and bootstraps: a
// find_node traversal toward the node's own ID, which fills the table with
// the nodes around it.
func (n *Node) join() {
	routers := n.resolve()
	n.mu.Lock()
	n.routers = routers
	n.mu.Unlock()
	if n.srv.Stats().GoodNodes < goodEnough {
		var wg sync.WaitGroup
		for _, r := range routers {
			// An answer puts the router in the table, so the traversal
			// starts from it even when stale nodes were loaded.
			wg.Go(func() { n.srv.Ping(r.Raw().(*net.UDPAddr)) })
		}
		wg.Wait()
	}
	// No node to start from would leak a goroutine (startTableMaintainer).
	if _, err := n.srv.TraversalStartingNodes(); err != nil || n.ctx.Err() != nil {
		n.log.Debug("dht: cannot join yet", "err", err)
		return
	}
	stats, err := n.srv.BootstrapContext(n.ctx)
	s := n.srv.Stats()
	n.log.Debug("dht: joined", "responses", stats.NumResponses, "nodes", s.Nodes, "good", s.GoodNodes, "err", err)
	n.startTableMaintainer()
}

// resolve returns the addresses of the bootstrap nodes that resolve, of the
// node's address family. Addresses need no resolver, so tests send no DNS
// query.
func (n *Node) resolve() []anacrolix.Addr {
	ctx, cancel := context.WithTimeout(n.ctx, resolveTimeout)
	defer cancel()
	want6 := n.Addr().Addr().Is6() && !n.Addr().Addr().Is4In6()
	var out []anacrolix.Addr
	for _, hp := range n.cfg.Bootstrap {
		host, portStr, _ := net.SplitHostPort(hp) // checked in Open
		port, err := net.LookupPort("udp", portStr)
		if err != nil {
			n.log.Debug("dht: bootstrap node", "node", hp, "err", err)
			continue
		}
		ips := []netip.Addr{}
		if ip, err := netip.ParseAddr(host); err == nil {
			ips = append(ips, ip)
		} else if ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
			n.log.Debug("dht: bootstrap node", "node", hp, "err", err)
			continue
		}
		for _, ip := range ips {
			ip = ip.Unmap()
			if ip.Is6() != want6 {
				continue
			}
			out = append(out, anacrolix.NewAddr(net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port)))))
		}
	}
	return out
}

// startingNodes is the library's StartingNodes: where a traversal starts
// when the routing table is empty.
func (n *Node) startingNodes() ([]anacrolix.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.routers) == 0 {
		return nil, errors.New("dht: no bootstrap node")
	}
	return append([]anacrolix.Addr(nil), n.routers...), nil
}
