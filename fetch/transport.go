package fetch

// PeerConn is one connected peer as Stats lists it: what it runs over and
// how fast it goes.
type PeerConn struct {
	Addr      string
	Transport string // "tcp" or "utp"
	Encrypted bool   // RC4 (MSE); false for plain or header-only
	Incoming  bool
	DownRate  float64 // bytes/s
	UpRate    float64
}

// transportInfo is what the transport below says of a connection
// (package transport's Conn); a connection without it is plain TCP.
type transportInfo interface {
	Kind() string
	Encrypted() bool
}

// describe returns what Stats lists of p, and counts its transport in s.
func (s *Stats) describe(p *peer) {
	pc := PeerConn{Addr: p.c.addr.String(), Transport: "tcp", Incoming: p.c.incoming,
		DownRate: p.downRate.perSec, UpRate: p.upRate.perSec}
	if ti, ok := p.c.Conn.(transportInfo); ok {
		pc.Transport, pc.Encrypted = ti.Kind(), ti.Encrypted()
	}
	switch pc.Transport {
	case "utp":
		s.PeersUTP++
	default:
		s.PeersTCP++
	}
	if pc.Encrypted {
		s.PeersEncrypted++
	}
	s.PeerConns = append(s.PeerConns, pc)
}
