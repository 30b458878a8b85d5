package trackerload

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// BEP 15 constants.
const (
	udpProtocolID  = 0x41727101980
	actionConnect  = 0
	actionAnnounce = 1
	actionError    = 3
	// connIDLifetime is how long a client may use a connection id (BEP 15
	// says a minute).
	connIDLifetime = time.Minute
)

// udpAnnouncer is one BEP 15 client socket, connected to the tracker.
type udpAnnouncer struct {
	addr    string
	lane    netip.Addr
	timeout time.Duration

	conn   *net.UDPConn
	connID uint64
	idAt   time.Time
	tx     uint32
	out    []byte
	in     []byte
}

func newUDPAnnouncer(cfg *Config, lane netip.Addr) *udpAnnouncer {
	return &udpAnnouncer{addr: cfg.Addr, lane: lane, timeout: cfg.Timeout, out: make([]byte, 0, 98), in: make([]byte, 2048)}
}

func (u *udpAnnouncer) close() {
	if u.conn != nil {
		u.conn.Close()
		u.conn = nil
	}
}

func (u *udpAnnouncer) announce(p *peer, event uint32) error {
	if u.conn == nil {
		raddr, err := net.ResolveUDPAddr("udp", u.addr)
		if err != nil {
			return err
		}
		if u.conn, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(u.lane, 0)), raddr); err != nil {
			return err
		}
	}
	if u.connID == 0 || time.Since(u.idAt) > connIDLifetime {
		if err := u.connect(); err != nil {
			return err
		}
	}
	u.tx++
	b := binary.BigEndian.AppendUint64(u.out[:0], u.connID)
	b = binary.BigEndian.AppendUint32(b, actionAnnounce)
	b = binary.BigEndian.AppendUint32(b, u.tx)
	b = append(b, p.infoHash[:]...)
	b = append(b, p.id[:]...)
	b = binary.BigEndian.AppendUint64(b, 0) // downloaded
	b = binary.BigEndian.AppendUint64(b, uint64(p.left))
	b = binary.BigEndian.AppendUint64(b, 0) // uploaded
	b = binary.BigEndian.AppendUint32(b, event)
	b = binary.BigEndian.AppendUint32(b, 0)          // ip: the source's
	b = binary.BigEndian.AppendUint32(b, u.tx)       // key
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // num_want -1: the tracker's default
	b = binary.BigEndian.AppendUint16(b, p.port)
	reply, err := u.roundTrip(b)
	if err != nil {
		return err
	}
	if len(reply) < 20 || binary.BigEndian.Uint32(reply) != actionAnnounce || (len(reply)-20)%6 != 0 {
		return fmt.Errorf("bad announce reply %x", reply)
	}
	return nil
}

func (u *udpAnnouncer) connect() error {
	u.tx++
	b := binary.BigEndian.AppendUint64(u.out[:0], udpProtocolID)
	b = binary.BigEndian.AppendUint32(b, actionConnect)
	b = binary.BigEndian.AppendUint32(b, u.tx)
	reply, err := u.roundTrip(b)
	if err != nil {
		return err
	}
	if len(reply) < 16 || binary.BigEndian.Uint32(reply) != actionConnect {
		return fmt.Errorf("bad connect reply %x", reply)
	}
	u.connID, u.idAt = binary.BigEndian.Uint64(reply[8:]), time.Now()
	return nil
}

// roundTrip sends b and returns the reply with the same transaction id,
// skipping late replies to earlier requests. No retransmission: a lost
// request is a timeout, which is what the benchmark reports.
func (u *udpAnnouncer) roundTrip(b []byte) ([]byte, error) {
	tx := binary.BigEndian.Uint32(b[12:])
	u.conn.SetDeadline(time.Now().Add(u.timeout))
	if _, err := u.conn.Write(b); err != nil {
		return nil, classify(err)
	}
	for {
		n, err := u.conn.Read(u.in)
		if err != nil {
			return nil, classify(err)
		}
		r := u.in[:n]
		if n < 8 || binary.BigEndian.Uint32(r[4:]) != tx {
			continue
		}
		if binary.BigEndian.Uint32(r) == actionError {
			u.connID = 0 // perhaps expired: connect again next time
			return nil, errors.New("refused: " + string(r[8:]))
		}
		return r, nil
	}
}
