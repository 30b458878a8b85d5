// Package fetch is the swarm engine: one Torrent per info-hash, its state
// owned by a single event loop goroutine (Run). Peer connections, piece
// verification and tracker announces run in goroutines of their own that
// report to the loop on channels; no lock spans the swarm.
//
// The loop owns: the picker (what to request from whom), the choker (whom we
// upload to), the peers and their request queues, and the blocks of pieces
// being downloaded. Each peer has a reader goroutine (messages in, blocks
// copied once into pooled buffers) and a writer goroutine (messages out, and
// uploads read from Storage on that goroutine, so a slow disk or peer never
// stalls the loop). Complete pieces are hashed by a pool of verifiers and
// written to Storage before they count as ours.
package fetch
