// Package dht is btfs's node of the mainline DHT (BEP 5): it finds the peers
// of a torrent without a tracker, and announces ours. It wraps
// github.com/anacrolix/dht/v2 behind a small API (Open, Lookup, Announce,
// Stats, Close) and a guard that checks every datagram before the library
// reads it.
//
// # Why a library, and why this one
//
// The DHT's hard parts are its routing table upkeep (buckets, questionable
// and bad nodes, refreshes), iterative traversals, tokens and the quirks of
// the nodes out there; they are learned against the real network, which no
// test here can reach. anacrolix/dht has run in anacrolix/torrent (and the
// programs built on it) for years, so btfs wraps it rather than writing its
// own. The price, measured when it was added (v2.23.0):
//
//   - 19 more modules in go.mod (anacrolix/{dht,log,torrent,missinggo,stm,
//     chansync,generics,multiless,sync}, benbjohnson/immutable, rs/dnscache,
//     golang.org/x/exp, ...), 39 packages compiled in; `go mod graph` grows
//     from 196 to 946 edges (its go.mod names OpenTelemetry and gRPC, none
//     of which is compiled in). It requires a retracted pseudo-version of
//     anacrolix/torrent, of which it uses only bencode, metainfo and iplist;
//     the retraction is about that module's torrent client.
//   - 1.4 MB more in cmd/btfs (6 %, 0.99 MB stripped); 4.7 MB for a tiny
//     program on its own.
//   - Globals: a process-wide send limiter (each Node here has its own),
//     expvar counters, a DNS cache refresher goroutine (never started here:
//     bootstrap names are resolved by this package), and a global logger
//     used for malformed packets (never reached: see below).
//
// A BEP 5 node of our own would be about 1,500 lines over btfs's bencode,
// with no other implementation to test it against on loopback (the one in
// Debian's Transmission, jech/dht, refuses 127.0.0.0/8 nodes as martians).
// The library is the smaller risk, provided its input is checked:
//
// # The guard
//
// The library decodes datagrams by reflection and trusts their shape; one
// datagram can crash the process (see krpc.go). Every datagram is first
// parsed with btfs's strict bencode and checked against the KRPC shapes of
// BEP 5; only those pass, and FuzzCheckKRPC proves that whatever passes
// decodes in the library without an error or a panic. BEP 44 (get/put) is
// not served.
//
// # Library bugs worked around (v2.23.0)
//
//   - One datagram can panic the process (a short "values" entry or "ip",
//     announce_peer without "a"): the guard.
//   - find_node is answered with the nodes closest to the query's info_hash
//     (absent, so zero) instead of its target: an OnQuery hook copies the
//     target over (fixFindNode).
//   - A bootstrap with no node to start from leaks its traversal goroutine:
//     this package bootstraps only when there is one, and starts the
//     library's table maintainer only once the table has a node.
//   - Its peer store is unbounded, never expires, and keeps one peer per IP:
//     replaced by peerStore.
//   - Server.Close returns before its read loop ends, and the loop panics on
//     a read error while the Server is open: guardConn's shutdown, park and
//     release order makes Close wait for it, and absorbs read errors.
//   - Replies list nodes from the target's bucket and the farther ones only
//     (table.closestNodes), so in a network of a dozen nodes a lookup may
//     miss nodes; on the real DHT, buckets are full and it does not matter.
//     Tests build a full mesh (startNetwork).
//
// # Ownership
//
// Open starts a goroutine that joins the DHT and keeps the routing table
// (with the library's table maintainer); Lookup and Announce run on the
// caller's goroutine. Close stops all of it, waiting for the library's read
// loop and for queries in flight (up to about QueryTimeout), then saves the
// state file. The library starts short-lived goroutines per query and reply;
// they end within QueryTimeout of Close.
//
// # Loopback and tests
//
// The library treats loopback and private addresses as "local network":
// their node IDs are exempt from BEP 42's check, and nothing else filters
// them, so nodes on 127.0.0.1 with distinct ports form a working DHT; no
// distinct IPs are needed. Its peer store keeps one peer per IP, which would
// hide all but one loopback peer: this package has its own (bounded,
// expiring) store keyed by address and port. Tests pass only loopback
// bootstrap nodes, and set allowDest so that any datagram to another address
// is refused and counted.
//
// # Use
//
// Private torrents (BEP 27) must never be looked up or announced: the caller
// checks. The DHT port is UDP; BitTorrent clients use the number of their
// TCP peer port, and tell peers about it with the PORT message (BEP 5).
//
// Files: node.go (Config, Open, Close, Stats), maintain.go (joining, upkeep),
// announce.go (Lookup, Announce, Ping), krpc.go (the guard's checks), conn.go (the
// guarded socket), peerstore.go, state.go (the state file), log.go.
package dht
