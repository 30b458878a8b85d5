package main

import (
	"context"
	"log/slog"
	"net"
	"net/netip"

	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/transport"
	"github.com/urfave/cli/v2"
)

// Transports (package transport): how mount, get and seed reach peers.
//
//   - --encryption prefer (the default) tries Message Stream Encryption
//     first and falls back to plain BitTorrent, and accepts both: peers
//     that require encryption (a common setting of libtorrent, Transmission
//     and qBittorrent) are served, and so are the ones that do not speak
//     it. require speaks MSE with RC4 only, both ways; off plain only.

// transportFlags are the transport flags of the commands that join a swarm.
func transportFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "encryption", Value: "prefer",
			Usage: "peer encryption (MSE): `prefer` (try encrypted, fall back to plain; accept both), require (RC4 only), off (plain only)"},
	}
}

// encryption reads --encryption.
func encryption(c *cli.Context) (transport.Encryption, error) {
	e, err := transport.ParseEncryption(c.String("encryption"))
	if err != nil {
		return e, usagef(c, "--%v", err)
	}
	return e, nil
}

// peerDialer returns fetch's Dial over the transports the flags allow.
func peerDialer(c *cli.Context) (func(context.Context, netip.AddrPort, metainfo.Hash) (net.Conn, error), error) {
	e, err := encryption(c)
	if err != nil {
		return nil, err
	}
	d := &transport.Dialer{Encryption: e}
	return func(ctx context.Context, addr netip.AddrPort, h metainfo.Hash) (net.Conn, error) {
		conn, err := d.Dial(ctx, addr, h)
		if err != nil {
			return nil, err // not a nil *transport.Conn in the interface
		}
		return conn, nil
	}, nil
}

// peerListener serves incoming peers on ln under the flags' encryption.
func peerListener(c *cli.Context, ln net.Listener, log *slog.Logger) (*fetch.Listener, error) {
	e, err := encryption(c)
	if err != nil {
		return nil, err
	}
	up := func(ctx context.Context, nc net.Conn, known func() [][20]byte) (net.Conn, error) {
		conn, err := e.Accept(ctx, nc, known)
		if err != nil {
			return nil, err
		}
		return conn, nil
	}
	return fetch.NewListener(ln, up, log), nil
}
