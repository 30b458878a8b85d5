// Package cache keeps the verified pieces of every torrent of a user in one
// badger store: the mount reads from it, the seeder serves from it, and a
// remount finds it full. It knows pieces and info-hashes, never peers.
//
// The rules it obeys:
//
//  1. Only verified pieces go in (WritePiece's contract, as in fetch.Storage),
//     each in one transaction with its torrent's metadata: a piece is stored
//     whole or not at all, and a stored piece always has its torrent's
//     metadata beside it.
//  2. A piece is stored as chunks of 256 KiB under one key prefix
//     (p | info-hash | piece | chunk), all in badger's value log, padded so
//     that each chunk's bytes start 64-byte aligned there (align.go). A read
//     looks up only the chunks its range covers and copies only its range,
//     straight out of the memory-mapped value log: warm reads of 128 KiB and
//     1 MiB run at the rate of pread from a plain file (BenchmarkReadAt).
//     The page cache is the hot layer; there is no other.
//  3. The first read of a piece after Open re-hashes the whole piece
//     against the torrent's SHA-1 (about 0.8 ms per MiB), and every read
//     checks each chunk's length, which is how badger's own read failures
//     show (it logs them and hands back no bytes). A piece that fails is
//     dropped and reported as evicted, and the read fails with ErrCorrupt:
//     wrong bytes are never returned. Options.VerifyReads adds badger's CRC
//     check to every read, at a third to a half of the read rate.
//  4. What is stored is known from the keys alone: Open scans them once,
//     in order, without touching a value, and keeps an in-memory index (9
//     bytes a piece) from which Have, List and eviction work. Pieces left
//     incomplete or orphaned by a crash are dropped there.
//  5. Live bytes stay under the bound minus headroom for the value log's
//     garbage, badger's working files and the reserve (room.go); writing
//     past it evicts the least recently read or written pieces first,
//     skipping pieces a reader holds, a thirty-second of the bound at a
//     time. After a restart recency starts as write order. The bound holds
//     on disk: a write that would take du of the directory past it
//     collects garbage and evicts first, and is refused if that is not
//     enough.
//  6. Evicted pieces are dropped with badger's DropPrefix, which compacts
//     them away at once, so the value log's discard statistics see them;
//     a GC goroutine (owned by the Cache, stopped by Close) then rewrites
//     value-log files that are half garbage or more, which gives the disk
//     space back. While the directory is over the bound it settles for a
//     tenth.
//  7. Badger writes through memory maps, where a write that finds no free
//     disk block is a SIGBUS, not an error. So a write is refused, with an
//     error wrapping syscall.ENOSPC, unless the disk has room for it and
//     for what badger writes on its own; the blocks each commit and GC
//     round write into are allocated beforehand (fallocate); a reserve
//     file gives Open and Close room on a full disk; and Open trims the
//     sparse tails a crash leaves on badger's logs. Reads go on (room.go).
//  8. Eviction, removal and corruption are reported per torrent (Evicted,
//     TakeEvicted), so the engine forgets those pieces and fetches them
//     again when they are wanted.
//  9. A torrent's info dictionary can be kept beside its metadata (PutInfo),
//     for magnet links: Info checks it against the info-hash on every read.
//     A torrent whose info is kept stays listed without pieces, until
//     Remove.
//
// Every method is safe for concurrent use; see Cache for the locks.
package cache
