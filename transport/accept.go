package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/btfs/btfs/transport/mse"
)

// plainStart is how a plain BitTorrent handshake starts: the length of the
// protocol string, then the string.
var plainStart = []byte("\x13BitTorrent protocol")

// Errors of Accept that the policy causes.
var (
	ErrPlainRefused     = errors.New("transport: plain connection refused (encryption required)")
	ErrEncryptedRefused = errors.New("transport: encrypted connection refused (encryption off)")
)

// Accept reads the start of an incoming connection and returns the stream
// that carries the peer's BitTorrent handshake, decrypted if it came with
// MSE. known lists the info-hashes served, MSE's secret keys; it is called
// only for an MSE handshake. The handshake ends by ctx's deadline or
// HandshakeTimeout, whichever is first; the caller closes nc on an error.
func (e Encryption) Accept(ctx context.Context, nc net.Conn, known func() [][20]byte) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	kind := kindOf(nc)
	start := make([]byte, len(plainStart))
	if err := readStart(ctx, nc, start); err != nil {
		return nil, fmt.Errorf("read the first bytes: %w", err)
	}
	pc := &prefixConn{Conn: nc, prefix: start}
	if bytes.Equal(start, plainStart) {
		if e == Require {
			return nil, ErrPlainRefused
		}
		return wrap(pc, kind), nil
	}
	if e == Off {
		return nil, ErrEncryptedRefused
	}
	find := func(h [20]byte) ([20]byte, bool) {
		for _, k := range known() {
			if mse.SKeyHash(k) == h {
				return k, true
			}
		}
		return [20]byte{}, false
	}
	c, _, err := mse.Receive(ctx, pc, find, e.offer())
	if err != nil {
		return nil, err
	}
	return wrap(c, kind), nil
}

// readStart fills b under ctx's deadline.
func readStart(ctx context.Context, nc net.Conn, b []byte) error {
	if d, ok := ctx.Deadline(); ok {
		nc.SetReadDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetReadDeadline(time.Unix(1, 0)) })
	_, err := io.ReadFull(nc, b)
	if !stop() {
		return ctx.Err()
	}
	nc.SetReadDeadline(time.Time{})
	return err
}

// prefixConn returns prefix before what the connection reads.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
