package fetch

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/btfs/btfs/fetch/picker"
)

// Bans and per-address limits. A ban is by IP address, never address and
// port: a peer picks its source port, and one that was dropped for lying
// came back from a new port hundreds of times. A banned address is refused
// before we answer its handshake, never dialled, and what it sent of pieces
// still downloading is thrown away.
const (
	// maxBans bounds the banned addresses remembered. Each ban costs the
	// banned peer at least a piece of data sent, so the list grows slowly;
	// past the bound the oldest ban is forgotten.
	maxBans = 10000
	// maxPeersPerIP bounds the connections one address may hold: a few
	// clients behind one NAT address (a household, a carrier's NAT) fit,
	// and one host cannot take more than a few of DefaultMaxPeers' slots.
	// 127.0.0.1 and ::1 are exempt (sharedLoopback).
	maxPeersPerIP = 4
)

// banList is the set of banned addresses. The loop adds to it; the
// goroutines that accept connections read it.
type banList struct {
	mu    sync.Mutex // guards m and order
	m     map[netip.Addr]struct{}
	order []netip.Addr // oldest first
}

func newBanList() *banList { return &banList{m: map[netip.Addr]struct{}{}} }

// add bans ip; false if it was banned already.
func (b *banList) add(ip netip.Addr) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.m[ip]; ok {
		return false
	}
	if len(b.order) >= maxBans {
		delete(b.m, b.order[0])
		b.order = b.order[1:]
	}
	b.m[ip] = struct{}{}
	b.order = append(b.order, ip)
	return true
}

func (b *banList) has(ip netip.Addr) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.m[ip]
	return ok
}

func (b *banList) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// ipOf is the address a peer is judged by: its IP, IPv4 unmapped.
func ipOf(a netip.AddrPort) netip.Addr { return a.Addr().Unmap() }

// sharedLoopback reports whether ip is the address every local client
// connects from by default (127.0.0.1, ::1): local swarms, the tests and
// the benchmarks run many clients there, and no remote host can send from
// it. Other loopback addresses count as hosts of their own.
func sharedLoopback(ip netip.Addr) bool {
	return ip == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || ip == netip.IPv6Loopback()
}

var errBanned = errors.New("address banned")

// admit decides whether a handshaken connection may join: not from a
// banned address, nor past the per-address limit. It counts refusals.
func (t *Torrent) admit(c *conn) error {
	ip := ipOf(c.addr)
	err := error(nil)
	if t.bans.has(ip) {
		err = errBanned
	} else if !sharedLoopback(ip) {
		n := 0
		for p := range t.peers {
			if ipOf(p.c.addr) == ip {
				n++
			}
		}
		if n >= maxPeersPerIP {
			err = fmt.Errorf("%d connections from %s already", n, ip)
		}
	}
	if err != nil {
		t.counters.refused.Add(1)
	}
	return err
}

// banIP bans ip for the rest of the session: its connections are dropped,
// the blocks it sent of pieces still downloading are forgotten, and its
// addresses are never dialled again.
func (t *Torrent) banIP(ip netip.Addr, why error) {
	if !t.bans.add(ip) {
		return
	}
	t.log.Warn("peer banned", "ip", ip, "why", why)
	t.trust.forget(ip)
	for id, a := range t.addrOf {
		if ipOf(a) == ip {
			t.freeBlocks(t.picker.Discard(id))
		}
	}
	for p := range t.peers {
		if ipOf(p.c.addr) == ip {
			t.dropPeer(p, fmt.Errorf("banned: %w", why))
		}
	}
	t.book.forgetIP(ip)
	t.requestAll() // the forgotten blocks are wanted again
}

// setParole puts every connection from ip on parole or takes it off.
func (t *Torrent) setParole(ip netip.Addr, on bool) {
	for p := range t.peers {
		if ipOf(p.c.addr) == ip {
			p.parole = on
			t.picker.SetParole(p.id, on)
		}
	}
}

// freeBlocks returns to the pool the buffers of blocks the picker has
// dropped, and forgets a piece none of whose blocks is left.
func (t *Torrent) freeBlocks(dropped []picker.Block) {
	for _, b := range dropped {
		bufs := t.pieces[b.Piece]
		if bufs == nil || bufs[b.Index] == nil {
			continue
		}
		t.counters.discarded.Add(int64(len(bufs[b.Index])))
		t.blocks.put(bufs[b.Index])
		bufs[b.Index] = nil
		empty := true
		for _, x := range bufs {
			empty = empty && x == nil
		}
		if empty {
			delete(t.pieces, b.Piece)
		}
	}
}
