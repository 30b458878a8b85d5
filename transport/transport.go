// Package transport is the plumbing below the peer wire protocol: it hands
// wire a net.Conn, over TCP or uTP, encrypted with MSE (package mse) or not,
// as the encryption policy says. Nothing above it knows which transport a
// peer uses, except the stats, through Kind and Encrypted on the
// connections it returns.
//
// Outgoing (Dialer.Dial), in libtorrent's order:
//
//  1. The transport: uTP first when there is a uTP socket (clients that
//     speak it prefer it, and it gets through NATs), TCP if the uTP
//     connection is not accepted within UTPConnectTimeout.
//  2. Encryption: Prefer and Require start with the MSE handshake; Prefer
//     offers RC4 and plaintext and, when the peer does not answer MSE,
//     connects again in plain BitTorrent over the same transport. Require
//     offers RC4 only. Off speaks plain BitTorrent only.
//
// Incoming (Policy.Accept): the first 20 bytes tell a plain handshake (19,
// "BitTorrent protocol") from MSE (a public key: anything else). Require
// refuses the plain one, Off refuses MSE; the MSE receiver finds the torrent
// among the info-hashes served and selects RC4 when the peer offers it
// (plaintext only for a peer that offers nothing else, and never under
// Require).
//
// Files: transport.go (policy, connections), dial.go, accept.go.
package transport

import (
	"fmt"
	"net"
	"time"

	"github.com/btfs/btfs/transport/mse"
)

// Encryption is the MSE policy.
type Encryption int

// The policies of --encryption.
const (
	// Prefer tries MSE first and falls back to plain BitTorrent; it
	// accepts both.
	Prefer Encryption = iota
	// Require speaks MSE with RC4 only, both ways.
	Require
	// Off speaks plain BitTorrent only.
	Off
)

// ParseEncryption reads a policy name: prefer, require or off.
func ParseEncryption(s string) (Encryption, error) {
	switch s {
	case "prefer", "":
		return Prefer, nil
	case "require":
		return Require, nil
	case "off":
		return Off, nil
	}
	return Prefer, fmt.Errorf("encryption %q: want prefer, require or off", s)
}

func (e Encryption) String() string {
	return [...]string{"prefer", "require", "off"}[e]
}

// offer is the MSE methods we offer (outgoing) or accept (incoming).
func (e Encryption) offer() mse.Method {
	if e == Require {
		return mse.RC4
	}
	return mse.RC4 | mse.Plaintext
}

// Transport kinds, as Kind reports them.
const (
	TCP = "tcp"
	UTP = "utp"
)

// HandshakeTimeout bounds an incoming connection's MSE handshake (and the
// first bytes that tell plain from MSE) when the caller's context has no
// earlier deadline: what a peer on a slow link needs, no more.
const HandshakeTimeout = 10 * time.Second

// Conn is a connection this package hands over: the stream that carries
// the BitTorrent handshake, decrypted if it is encrypted.
type Conn struct {
	net.Conn
	kind      string
	encrypted bool
}

// Kind is the transport: TCP or UTP.
func (c *Conn) Kind() string { return c.kind }

// Encrypted reports whether the stream is RC4-encrypted.
func (c *Conn) Encrypted() bool { return c.encrypted }

// kindOf names the transport of a raw connection.
func kindOf(nc net.Conn) string {
	if _, ok := nc.LocalAddr().(*net.TCPAddr); ok {
		return TCP
	}
	return UTP
}

// wrap labels a connection after its handshake.
func wrap(nc net.Conn, kind string) *Conn {
	if c, ok := nc.(*mse.Conn); ok {
		return &Conn{Conn: c, kind: kind, encrypted: c.Encrypted()}
	}
	return &Conn{Conn: nc, kind: kind}
}
