// Package tracker implements both sides of the BitTorrent tracker protocol.
//
// Server: a Server keeps the swarms (which peers announced which info-hash)
// and answers HTTP announces (BEP 3, compact peers of BEP 23, peers6 of
// BEP 7), HTTP scrapes (BEP 48) and the UDP protocol of BEP 15. It is an
// http.Handler, so the caller owns the HTTP listener and its shutdown, and
// ServeUDP runs the UDP side on a socket the caller owns until a context ends.
//
// Client: Client.Announce and Client.Scrape speak to one tracker URL (http,
// https or udp); an Announcer keeps one torrent announced to a BEP 12
// announce-list from a goroutine its caller owns.
//
// Files, by concern:
//
//	message.go          request/response structs shared by both sides, errors
//	limits.go           every size and count limit, with the reason for it
//	query.go, escape.go HTTP query parsing (announce, scrape): syntax only
//	swarm.go            sharded swarm state, expiry
//	evict.go            admitting new torrents: per-address cap, eviction
//	sources.go          per-address state: announce rate, owned torrents
//	torrent.go          one torrent's peers
//	pick.go             choosing the peers an announce gets back
//	server.go           Server, options, the policy HTTP and UDP share
//	server_http.go      /announce and /scrape handlers and encoders
//	server_udp.go       the BEP 15 serve loop
//	stats.go            counts for operators, /stats
//	connid.go           stateless, unforgeable BEP 15 connection ids
//	udpwire.go          BEP 15 packet codec, both directions
//	client*.go          announce and scrape clients
//	tiers.go            BEP 12 tier order (pure)
//	announcer*.go       the announce loop
package tracker
