package transport

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/btfs/btfs/transport/mse"
)

// UTPConnectTimeout is how long an outgoing uTP connection may take to be
// accepted before TCP is tried: a few round trips on a slow path, short
// enough to leave TCP and the handshakes most of the caller's dial time.
const UTPConnectTimeout = 2 * time.Second

// DialFunc opens a raw connection.
type DialFunc func(ctx context.Context, addr netip.AddrPort) (net.Conn, error)

// Dialer opens outgoing peer connections (see the package comment for the
// order of attempts).
type Dialer struct {
	Encryption Encryption
	// UTP dials uTP; nil: TCP only (--no-utp).
	UTP DialFunc
	// TCP dials TCP; nil: a net.Dialer.
	TCP DialFunc
}

// ForTorrent returns the dial function of one torrent, whose info-hash is
// MSE's secret key.
func (d *Dialer) ForTorrent(infoHash [20]byte) DialFunc {
	return func(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
		return d.Dial(ctx, addr, infoHash)
	}
}

// Dial connects to addr for the torrent infoHash and returns the stream to
// send the BitTorrent handshake on.
func (d *Dialer) Dial(ctx context.Context, addr netip.AddrPort, infoHash [20]byte) (*Conn, error) {
	raw, kind, err := d.connect(ctx, addr)
	if err != nil {
		return nil, err
	}
	if d.Encryption == Off {
		return wrap(raw, kind), nil
	}
	c, err := mse.Initiate(ctx, raw, infoHash, d.Encryption.offer(), nil)
	if err == nil {
		return wrap(c, kind), nil
	}
	raw.Close()
	if d.Encryption == Require || ctx.Err() != nil {
		return nil, fmt.Errorf("encrypted handshake with %v over %s: %w", addr, kind, err)
	}
	// Prefer: the peer may not speak MSE; plain BitTorrent, same transport.
	raw, err = d.dial(ctx, kind, addr)
	if err != nil {
		return nil, err
	}
	return wrap(raw, kind), nil
}

// connect opens the raw connection: uTP first, if there is a socket.
func (d *Dialer) connect(ctx context.Context, addr netip.AddrPort) (net.Conn, string, error) {
	if d.UTP != nil {
		uctx, cancel := context.WithTimeout(ctx, UTPConnectTimeout)
		c, err := d.UTP(uctx, addr)
		cancel()
		if err == nil {
			return c, UTP, nil
		}
		if ctx.Err() != nil {
			return nil, "", fmt.Errorf("dial %v over uTP: %w", addr, err)
		}
	}
	c, err := d.dial(ctx, TCP, addr)
	return c, TCP, err
}

func (d *Dialer) dial(ctx context.Context, kind string, addr netip.AddrPort) (net.Conn, error) {
	var c net.Conn
	var err error
	switch {
	case kind == UTP:
		c, err = d.UTP(ctx, addr)
	case d.TCP != nil:
		c, err = d.TCP(ctx, addr)
	default:
		var nd net.Dialer
		c, err = nd.DialContext(ctx, "tcp", addr.String())
	}
	if err != nil {
		return nil, fmt.Errorf("dial %v over %s: %w", addr, kind, err)
	}
	return c, nil
}
