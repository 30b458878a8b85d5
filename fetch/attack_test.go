package fetch

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

// Hostile peers that hold slots without doing harm a hash check could see:
// the helpers of turnover_test.go, handshake_flood_test.go and
// addrbook_test.go. Each attacker has its own loopback IP (127.0.0.0/8 is
// all ours), as a real one would have, so that per-IP limits do not stand
// in for the defence under test.

// attackerIP is the i-th loopback address of a block: 127.block.i/256.(i%256+1).
func attackerIP(block, i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, byte(block), byte(i / 256), byte(i%256 + 1)})
}

// attackBound is how long a download under attack may take: a small
// multiple of the same download without the attacker, plus the time the
// defence waits by design (a grace period), plus slack for a loaded
// two-core machine running the race detector.
func attackBound(baseline, designed time.Duration) time.Duration {
	return 4*baseline + designed + 3*time.Second
}

// download is one transfer between an honest seeder and leecher, timed.
type download struct {
	seeder, leecher func(*Config) // tweaks, or nil
	// attack sets upon the two once they run, before they learn of each
	// other.
	attack func(seeder, leecher *node)
	// Who learns of the other, as a tracker would tell them: the leecher
	// (which then dials the seeder), the seeder, or both.
	leecherDials, seederDials bool
	bound                     time.Duration // 0: a minute
}

// run performs the download of mi (content in src) and returns how long it
// took from the moment the peers learned of each other; the data must
// arrive exact within d.bound.
func (d download) run(t *testing.T, mi *metainfo.MetaInfo, src string) time.Duration {
	t.Helper()
	seeder := startNode(t, mi, src, true, d.seeder)
	leecher := startNode(t, mi, t.TempDir(), false, d.leecher)
	if d.attack != nil {
		d.attack(seeder, leecher)
	}
	start := time.Now()
	if d.leecherDials {
		leecher.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
	}
	if d.seederDials {
		seeder.t.AddPeers(context.Background(), []netip.AddrPort{leecher.addr})
	}
	bound := d.bound
	if bound == 0 {
		bound = time.Minute
	}
	waitDone(t, leecher, bound)
	took := time.Since(start)
	sameFile(t, filepath.Join(src, "content.bin"), filepath.Join(leecher.dir, "content.bin"))
	return took
}

// attackers owns the goroutines and connections of an attack; they end
// with the test.
type attackers struct {
	t      *testing.T
	mi     *metainfo.MetaInfo
	ctx    context.Context
	wg     sync.WaitGroup
	opened atomic.Int64 // connections the silent flood opened

	mu     sync.Mutex // guards conns, closed
	conns  map[net.Conn]bool
	closed bool
}

func newAttackers(t *testing.T, mi *metainfo.MetaInfo) *attackers {
	ctx, cancel := context.WithCancel(context.Background())
	a := &attackers{t: t, mi: mi, ctx: ctx, conns: map[net.Conn]bool{}}
	t.Cleanup(func() {
		cancel()
		a.mu.Lock()
		a.closed = true
		for c := range a.conns {
			c.Close()
		}
		a.mu.Unlock()
		a.wg.Wait()
	})
	return a
}

// track registers c to be closed when the test ends; false (c closed)
// if it already has.
func (a *attackers) track(c net.Conn) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		c.Close()
		return false
	}
	a.conns[c] = true
	return true
}

func (a *attackers) untrack(c net.Conn) {
	a.mu.Lock()
	delete(a.conns, c)
	a.mu.Unlock()
	c.Close()
}

// dialFrom connects to target from the loopback address src.
func (a *attackers) dialFrom(src netip.Addr, target netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: 5 * time.Second}
	return d.DialContext(a.ctx, "tcp", target.String())
}

// idleIn connects n idle peers to target, each from its own IP: they
// handshake, then send only keep-alives. It returns how many the target
// kept (those it closed at once were refused).
func (a *attackers) idleIn(target netip.AddrPort, n int) int {
	a.t.Helper()
	kept := make(chan bool, n)
	for i := range n {
		a.wg.Go(func() {
			c, err := a.dialFrom(attackerIP(10, i), target)
			if err != nil || !a.track(c) {
				kept <- false
				return
			}
			defer a.untrack(c)
			h := wire.Handshake{Reserved: wire.DefaultReserved(), InfoHash: a.mi.InfoHash, PeerID: wire.NewPeerID("-IDLE00-")}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if wire.WriteHandshake(c, h) != nil {
				kept <- false
				return
			}
			if _, err := wire.ReadHandshake(c); err != nil {
				kept <- false
				return
			}
			// An accepted peer is greeted (extension handshake); a refused
			// one is closed.
			r := wire.NewReader(c, a.mi.Info.NumPieces())
			_, err = r.ReadMessage()
			kept <- err == nil
			if err == nil {
				a.keepAlive(c, r)
			}
		})
	}
	accepted := 0
	for range n {
		if <-kept {
			accepted++
		}
	}
	return accepted
}

// keepAlive sends keep-alives and reads whatever comes until c fails.
func (a *attackers) keepAlive(c net.Conn, r *wire.Reader) {
	c.SetDeadline(time.Time{})
	a.wg.Go(func() {
		for {
			if _, err := r.ReadMessage(); err != nil {
				return
			}
		}
	})
	w := wire.NewWriter(c)
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	for {
		if w.WriteMessage(wire.Message{KeepAlive: true}) != nil || w.Flush() != nil {
			return
		}
		select {
		case <-a.ctx.Done():
			return
		case <-tk.C:
		}
	}
}

// idleListeners starts n idle peers that wait to be dialed, each on its
// own IP, and returns their addresses.
func (a *attackers) idleListeners(n int) []netip.AddrPort {
	a.t.Helper()
	addrs := make([]netip.AddrPort, 0, n)
	for i := range n {
		ln, err := net.Listen("tcp", netip.AddrPortFrom(attackerIP(11, i), 0).String())
		if err != nil {
			a.t.Fatal(err)
		}
		context.AfterFunc(a.ctx, func() { ln.Close() })
		addrs = append(addrs, netip.MustParseAddrPort(ln.Addr().String()))
		a.wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				if !a.track(c) {
					return
				}
				a.wg.Go(func() {
					defer a.untrack(c)
					c.SetDeadline(time.Now().Add(10 * time.Second))
					if _, err := wire.ReadHandshake(c); err != nil {
						return
					}
					h := wire.Handshake{InfoHash: a.mi.InfoHash, PeerID: wire.NewPeerID("-IDLE00-")}
					if wire.WriteHandshake(c, h) != nil {
						return
					}
					a.keepAlive(c, wire.NewReader(c, a.mi.Info.NumPieces()))
				})
			}
		})
	}
	return addrs
}

// silent opens perIP connections to target from each of ips that never
// send a byte, and reopens each every `every` until the test ends.
func (a *attackers) silent(target netip.AddrPort, ips []netip.Addr, perIP int, every time.Duration) {
	for _, ip := range ips {
		for range perIP {
			a.wg.Go(func() {
				for {
					c, err := a.dialFrom(ip, target)
					if err == nil {
						if !a.track(c) {
							return
						}
						a.opened.Add(1)
					}
					select {
					case <-a.ctx.Done():
						if err == nil {
							a.untrack(c)
						}
						return
					case <-time.After(every):
					}
					if err == nil {
						a.untrack(c)
					}
				}
			})
		}
	}
}

// underAttack runs d without its attack, then with it, which must end
// within attackBound of the first (designed: the delay the defence has by
// design); it logs both times.
func underAttack(t *testing.T, mi *metainfo.MetaInfo, src string, d download, designed time.Duration) {
	t.Helper()
	quiet := d
	quiet.attack = nil
	base := quiet.run(t, mi, src)
	d.bound = attackBound(base, designed)
	took := d.run(t, mi, src)
	t.Logf("download: %v without the attack, %v with it (%.1f×, bound %v)",
		base.Round(time.Millisecond), took.Round(time.Millisecond), float64(took)/float64(base), d.bound.Round(time.Millisecond))
}
