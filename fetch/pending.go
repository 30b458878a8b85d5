package fetch

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Incoming handshakes. Anyone can open connections and say nothing; each
// silent connection holds a goroutine and a descriptor until its deadline.
// Rules:
//
//   - At most maxPendingHandshakes connections handshake at once, and at
//     most maxPendingPerIP of them from one IP: one host cannot hold more
//     than a few. A new connection from an IP at its cap takes the slot of
//     that IP's oldest: a host flooding silent connections turns over only
//     its own slots, and an honest peer behind the same address (a NAT, or
//     loopback) still gets its round trip.
//   - When every slot is taken, a new connection (from an IP under its cap)
//     takes the slot of the oldest pending connection of the IP holding the
//     most: a flood from many hosts turns over its own slots, and an honest
//     peer's handshake, which takes one round trip, goes through between.
//   - A handshake must be complete within incomingHandshakeTimeout of the
//     accept; the slot is freed when it is, or when the deadline passes.
const (
	// maxPendingHandshakes bounds incoming connections still handshaking,
	// so a flood of silent connections cannot exhaust goroutines or
	// descriptors.
	maxPendingHandshakes = 64
	// maxPendingPerIP bounds one IP's share of them: a peer opens one
	// connection per torrent, a few torrents at once at most.
	maxPendingPerIP = 4
	// incomingHandshakeTimeout: the peer that connects speaks first, and
	// its 68 bytes need one round trip; five seconds is dozens of them on
	// the worst links, and is how long a silent connection holds a slot.
	incomingHandshakeTimeout = 5 * time.Second
)

// pendingConn is an accepted connection whose handshake is under way.
type pendingConn struct {
	nc net.Conn
	ip netip.Addr
}

// pendingSet admits incoming connections to the handshake by the rules
// above. mu guards all fields; conns in byIP are oldest first.
type pendingSet struct {
	max, perIP int
	mu         sync.Mutex
	n          int
	byIP       map[netip.Addr][]*pendingConn
}

func newPendingSet(max, perIP int) *pendingSet {
	return &pendingSet{max: max, perIP: perIP, byIP: map[netip.Addr][]*pendingConn{}}
}

// admit takes nc into the set, closing the connection whose slot it takes
// if its IP is at its cap or the set is full. It never refuses nc; the
// result is nil only if no slot may be had (a cap of zero).
func (s *pendingSet) admit(nc net.Conn) *pendingConn {
	ip := remoteIP(nc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byIP[ip]) >= s.perIP {
		if s.perIP == 0 {
			return nil
		}
		victim := s.byIP[ip][0]
		s.removeLocked(victim)
		victim.nc.Close()
	} else if s.n >= s.max {
		var most netip.Addr
		for a, cs := range s.byIP {
			if !most.IsValid() || len(cs) > len(s.byIP[most]) {
				most = a
			}
		}
		victim := s.byIP[most][0]
		s.removeLocked(victim)
		victim.nc.Close() // its handshake fails at once and its goroutine ends
	}
	pc := &pendingConn{nc: nc, ip: ip}
	s.byIP[ip] = append(s.byIP[ip], pc)
	s.n++
	return pc
}

// release frees pc's slot (its handshake ended either way); a connection
// whose slot was taken is already gone.
func (s *pendingSet) release(pc *pendingConn) {
	s.mu.Lock()
	s.removeLocked(pc)
	s.mu.Unlock()
}

func (s *pendingSet) removeLocked(pc *pendingConn) {
	cs := s.byIP[pc.ip]
	for i, c := range cs {
		if c == pc {
			cs = append(cs[:i:i], cs[i+1:]...)
			s.n--
			break
		}
	}
	if len(cs) == 0 {
		delete(s.byIP, pc.ip)
	} else {
		s.byIP[pc.ip] = cs
	}
}

// remoteIP is the IP a connection comes from; the zero Addr if unknown
// (every such connection then shares one cap).
func remoteIP(nc net.Conn) netip.Addr {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	ap, _ := netip.ParseAddrPort(nc.RemoteAddr().String())
	return ap.Addr().Unmap()
}
