package fetch

import (
	"context"
	"crypto/rand"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/wait"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/transport"
)

// The engine over package transport: the listener's Upgrade and Config.Dial
// as cmd/btfs wires them.

func upgradeWith(e transport.Encryption) Upgrade {
	return func(ctx context.Context, nc net.Conn, known func() [][20]byte) (net.Conn, error) {
		c, err := e.Accept(ctx, nc, known)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

func dialWith(e transport.Encryption) func(context.Context, netip.AddrPort, metainfo.Hash) (net.Conn, error) {
	d := &transport.Dialer{Encryption: e}
	return func(ctx context.Context, a netip.AddrPort, h metainfo.Hash) (net.Conn, error) {
		c, err := d.Dial(ctx, a, h)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// TestEncryptionPolicies downloads under each pair of policies that can
// meet, and checks what both sides' stats say of the connection.
func TestEncryptionPolicies(t *testing.T) {
	for _, tc := range []struct {
		seed, leech transport.Encryption
		encrypted   bool
	}{
		{transport.Prefer, transport.Prefer, true},
		{transport.Require, transport.Prefer, true},
		{transport.Prefer, transport.Require, true},
		{transport.Require, transport.Require, true},
		{transport.Off, transport.Prefer, false}, // MSE refused, plain retry
		{transport.Prefer, transport.Off, false},
	} {
		t.Run(tc.seed.String()+"/"+tc.leech.String(), func(t *testing.T) {
			mi, src := makeContent(t, 1<<20+77, 32<<10)
			seeder := startNodeWith(t, "127.0.0.1", mi, src, true, nil, upgradeWith(tc.seed))
			// Slow enough (about two seconds) that the connection is seen.
			leecher := startNode(t, mi, t.TempDir(), false, func(c *Config) {
				c.Dial = dialWith(tc.leech)
				c.DownloadLimit = NewRateLimit(512 << 10)
			})
			leecher.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
			for _, n := range []*node{leecher, seeder} {
				var pc PeerConn
				wait.For(t, "a connected peer", 10*time.Second, func() bool {
					s, err := n.t.Stats(context.Background())
					if err != nil || len(s.PeerConns) == 0 {
						return false
					}
					pc = s.PeerConns[0]
					if s.PeersTCP != 1 || s.PeersUTP != 0 || (s.PeersEncrypted == 1) != pc.Encrypted {
						t.Errorf("counts %+v for %+v", s, pc)
					}
					return true
				})
				if pc.Transport != "tcp" || pc.Encrypted != tc.encrypted || pc.Incoming != (n == seeder) {
					t.Fatalf("peer %+v, want tcp, encrypted %v", pc, tc.encrypted)
				}
			}
			waitDone(t, leecher, 30*time.Second)
			sameFile(t, filepath.Join(src, "content.bin"), filepath.Join(leecher.dir, "content.bin"))
		})
	}
}

// TestHalfOpenMSE opens handshakes that stop after the DH key, and ones that
// send garbage after it, at a seeder that accepts MSE: an honest leecher
// that arrives after them is served at once.
func TestHalfOpenMSE(t *testing.T) {
	mi, src := makeContent(t, 1<<20, 32<<10)
	seeder := startNodeWith(t, "127.0.0.1", mi, src, true, nil, upgradeWith(transport.Prefer))
	key := make([]byte, 96)
	key[95] = 5 // a valid public key
	garbage := make([]byte, 64<<10)
	rand.Read(garbage)
	for i := range 30 {
		c, err := net.Dial("tcp", seeder.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		msg := key
		if i%2 == 1 {
			msg = append(append([]byte(nil), key...), garbage...)
		}
		go c.Write(msg) // ends when the seeder closes it, or at cleanup
	}
	leecher := startNode(t, mi, t.TempDir(), false, func(c *Config) { c.Dial = dialWith(transport.Prefer) })
	start := time.Now()
	leecher.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
	waitDone(t, leecher, transport.HandshakeTimeout/2) // long before the silent ones time out
	t.Logf("served in %v beside 30 bad handshakes", time.Since(start))
	sameFile(t, filepath.Join(src, "content.bin"), filepath.Join(leecher.dir, "content.bin"))
}
