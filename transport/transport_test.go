package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/leakcheck"
)

func TestMain(m *testing.M) {
	os.Exit(leakcheck.Main(m, "btfs/btfs/transport."))
}

var infoHash = [20]byte{0xbe, 0xef, 19: 1}

type accepted struct {
	c   *Conn
	err error
}

// serve accepts connections on a loopback TCP listener under policy e
// and reports each; they are closed at the end of the test.
func serve(t *testing.T, e Encryption) (netip.AddrPort, <-chan accepted) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan accepted, 8)
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c, err := e.Accept(context.Background(), nc, func() [][20]byte { return [][20]byte{{1}, infoHash} })
			if err != nil {
				nc.Close()
			} else {
				t.Cleanup(func() { c.Close() })
			}
			select {
			case ch <- accepted{c, err}:
			default:
			}
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String()), ch
}

// TestPolicies dials under each policy a listener under each other.
func TestPolicies(t *testing.T) {
	const (
		fail = iota
		plain
		rc4
	)
	for _, tc := range []struct {
		dial, accept Encryption
		want         int
		acceptErr    error
	}{
		{Prefer, Prefer, rc4, nil},
		{Prefer, Require, rc4, nil},
		{Prefer, Off, plain, nil}, // MSE refused, then a plain retry
		{Require, Prefer, rc4, nil},
		{Require, Require, rc4, nil},
		{Require, Off, fail, ErrEncryptedRefused},
		{Off, Prefer, plain, nil},
		{Off, Require, fail, ErrPlainRefused},
		{Off, Off, plain, nil},
	} {
		t.Run(tc.dial.String()+"-to-"+tc.accept.String(), func(t *testing.T) {
			addr, ch := serve(t, tc.accept)
			d := &Dialer{Encryption: tc.dial}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := d.Dial(ctx, addr, infoHash)
			if err == nil {
				defer c.Close()
				// The BitTorrent handshake would go first: the acceptor
				// needs 20 bytes to tell plain from MSE.
				c.Write(plainStart)
			}
			a := <-ch
			if tc.dial == Prefer && tc.accept == Off {
				// The refused MSE attempt took the first connection.
				if !errors.Is(a.err, ErrEncryptedRefused) {
					t.Fatalf("first accept: %v", a.err)
				}
				a = <-ch
			}
			if tc.want == fail {
				if !errors.Is(a.err, tc.acceptErr) {
					t.Fatalf("accept: %v, want %v", a.err, tc.acceptErr)
				}
				if err == nil {
					if _, err := c.Read(make([]byte, 1)); err == nil {
						t.Fatal("the refused connection stays open")
					}
				}
				return
			}
			if err != nil || a.err != nil {
				t.Fatalf("dial: %v, accept: %v", err, a.err)
			}
			if c.Kind() != TCP || a.c.Kind() != TCP || c.Encrypted() != (tc.want == rc4) || a.c.Encrypted() != c.Encrypted() {
				t.Fatalf("dialled %s encrypted %v, accepted %s encrypted %v", c.Kind(), c.Encrypted(), a.c.Kind(), a.c.Encrypted())
			}
			got := make([]byte, len(plainStart))
			if _, err := io.ReadFull(a.c, got); err != nil || !bytes.Equal(got, plainStart) {
				t.Fatalf("acceptor read %q, %v", got, err)
			}
		})
	}
}
