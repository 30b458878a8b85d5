package dht

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// guardConn is the UDP socket as the library sees it. Reads pass only
// datagrams that checkKRPC accepts, from a usable address; writes go only to
// destinations allowDest accepts (tests: loopback only).
//
// It also lets Close know when the library's read loop is done with it. The
// loop (Server.serve) reads, processes, and reads again; it panics on a read
// error unless the Server is closed, and once the Server is closed it may
// stop without reading again. So Node.Close shuts the socket first
// (shutdown): the loop's next read parks in ReadFrom and closes parked; then
// Close closes the Server and calls release, and the parked read returns the
// error that ends the loop.
type guardConn struct {
	net.PacketConn
	log       *slog.Logger
	allowDest func(netip.Addr) bool // nil: any

	shut        atomic.Bool
	shutOnce    sync.Once
	parkOnce    sync.Once
	parked      chan struct{} // closed when the read loop is parked after shutdown
	releaseOnce sync.Once
	released    chan struct{} // closed by release

	dropped atomic.Int64 // datagrams refused by the guard
	refused atomic.Int64 // writes refused by allowDest
}

func newGuardConn(c net.PacketConn, log *slog.Logger, allowDest func(netip.Addr) bool) *guardConn {
	return &guardConn{
		PacketConn: c, log: log, allowDest: allowDest,
		parked: make(chan struct{}), released: make(chan struct{}),
	}
}

// errReadRetry is how long ReadFrom pauses after a read error on an open
// socket: such errors are absorbed here, since the library panics on them.
const errReadRetry = 10 * time.Millisecond

// ReadFrom returns the next acceptable datagram. After shutdown it parks
// until release, then returns net.ErrClosed.
func (c *guardConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if c.shut.Load() {
			c.parkOnce.Do(func() { close(c.parked) })
			<-c.released
			return 0, nil, net.ErrClosed
		}
		if err != nil {
			c.log.Debug("dht: read", "err", err)
			time.Sleep(errReadRetry)
			continue
		}
		if err := c.check(b[:n], addr); err != nil {
			c.dropped.Add(1)
			c.log.Debug("dht: dropped a datagram", "from", addr, "err", err)
			continue
		}
		return n, addr, nil
	}
}

// check accepts a datagram from a UDP address with a port, whose IP is not
// in 0.0.0.0/8 (which the library refuses to query), and which is a KRPC
// message.
func (c *guardConn) check(b []byte, addr net.Addr) error {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return fmt.Errorf("%w: from a %T", errBadKRPC, addr)
	}
	ap := ua.AddrPort()
	ip := ap.Addr().Unmap()
	if ap.Port() == 0 || !ip.IsValid() || ip.Is4() && ip.As4()[0] == 0 {
		return fmt.Errorf("%w: from %v", errBadKRPC, ap)
	}
	return checkKRPC(b)
}

// errRefusedDest reports a write to a destination allowDest refuses.
var errRefusedDest = errors.New("dht: destination refused")

// WriteTo sends b to addr unless allowDest refuses it.
func (c *guardConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.allowDest != nil {
		ua, ok := addr.(*net.UDPAddr)
		if !ok || !c.allowDest(ua.AddrPort().Addr().Unmap()) {
			c.refused.Add(1)
			return 0, fmt.Errorf("%w: %v", errRefusedDest, addr)
		}
	}
	return c.PacketConn.WriteTo(b, addr)
}

// shutdown closes the socket, so that the read loop parks.
func (c *guardConn) shutdown() {
	c.shutOnce.Do(func() {
		c.shut.Store(true)
		c.PacketConn.Close()
	})
}

// release lets the parked read loop end.
func (c *guardConn) release() { c.releaseOnce.Do(func() { close(c.released) }) }

// Close is what the library calls (Server.Close): the socket is already shut
// by then, so it only makes sure.
func (c *guardConn) Close() error {
	c.shutdown()
	return nil
}
