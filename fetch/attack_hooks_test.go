package fetch

import (
	"context"
	"time"
)

// Test hooks of the defences against hostile peers, in one place.

// idleAfter makes peers of no use go after d, and replaceable after d/4
// without data.
func idleAfter(d time.Duration) func(*Config) {
	return func(c *Config) { c.IdlePeerTimeout = d }
}

// replaceable reports whether every peer of n has gone without data long
// enough to give its slot to a new connection.
func replaceable(n *node) bool {
	ok := true
	n.t.do(context.Background(), func() {
		for p := range n.t.peers {
			if time.Since(p.dataAt) < n.t.cfg.IdlePeerTimeout/4 {
				ok = false
			}
		}
	})
	return ok
}

// shortHandshakes shortens n's incoming handshake deadline to d and returns
// the deadline in force.
func shortHandshakes(n *node, d time.Duration) time.Duration {
	n.ln.mu.Lock()
	n.ln.handshakeTimeout = d
	n.ln.mu.Unlock()
	return d
}
