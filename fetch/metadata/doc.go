// Package metadata turns a magnet link's info-hash into the torrent's info
// dictionary by BEP 9's ut_metadata extension: Fetch asks peers for it, and
// Serve answers peers who ask us.
//
// It lives under fetch because it is part of the swarm engine: it speaks to
// peers for one torrent, and the engine imports it (as it imports picker and
// choke) to serve the metadata it holds. It imports neither fetch nor the
// cache, so cmd/btfs can run it before a fetch.Torrent exists: the engine
// needs the info (piece count, hashes) to start.
//
// Rules Fetch obeys:
//
//   - Peers come from a channel, read only while there is room for another
//     connection (Options.MaxPeers); each address is tried once.
//   - A connection gets Options.DialTimeout for the TCP connect, the BEP 3
//     handshake (with the extension bit) and the BEP 10 handshakes (ours
//     advertises ut_metadata). A peer without the extension protocol, without
//     ut_metadata, with no metadata_size (it has no metadata) or one over
//     wire.MaxMetadataSize is dropped.
//   - The first ready peer's metadata_size sets the size being assembled;
//     peers that claim another size wait, and are used only if no peer of
//     that size is left.
//   - Pieces go to the ready peers of that size, at most maxRequestsPerPeer
//     outstanding each, each piece asked of one peer at a time. A peer that
//     rejects a request, leaves one unanswered for Options.RequestTimeout,
//     sends a piece it was not asked for, or breaks the message format
//     (wire.ParseMetadataMessage: wrong total_size, wrong piece size) is
//     dropped, and its pieces go to others.
//   - A complete metadata must hash to the info-hash. If it does not and one
//     peer sent it all, that peer is dropped. If several did, nobody can tell
//     who lied: from then on the metadata is taken whole from one peer at a
//     time (solo), and a peer whose metadata fails is dropped.
//   - Every request belongs to one attempt (a generation): data that arrives
//     for an attempt given up (after a failed hash or a change of size) is
//     discarded, so a piece is only ever attributed to the peer asked for it
//     in the attempt that uses it.
//   - Memory is bounded: one buffer of the metadata's size (at most
//     wire.MaxMetadataSize), made when its first piece arrives, plus one
//     piece in flight per connection.
//   - A metadata that hashes right but is not a valid info dictionary ends
//     the fetch with that error: the torrent itself is broken.
//   - Fetch returns when it has the metadata, when ctx ends, or when the
//     channel is closed and every peer has been tried; its goroutines have
//     all stopped by then.
//
// Files:
//
//	fetch.go     Options, Fetch, and the loop that owns the fetch's state
//	assembly.go  the metadata being assembled, piece by piece (no I/O)
//	peer.go      one peer connection: dial, handshakes, reader and writer
//	serve.go     Serve and Advertise: the engine's side, answering peers
package metadata
