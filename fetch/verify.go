package fetch

import (
	"context"
	"crypto/sha1"
	"fmt"
	"runtime"

	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

type verifyJob struct {
	piece       int
	blocks      [][]byte
	blockHashes bool // also hash each block (the piece failed before: smart ban)
}

type verifyResult struct {
	piece       int
	blocks      [][]byte
	ok          bool
	err         error // storing the verified piece failed
	blockHashes []metainfo.Hash
}

// storeWriters is how many goroutines write verified pieces to the
// storage: the cache commits one at a time and assembles the next meanwhile.
const storeWriters = 2

// startVerifiers starts the goroutines that hash complete pieces (one per
// core) and those that store the good ones, off the loop and the network
// goroutines. Hashing and storing are apart so that a piece a read waits for
// is hashed, and readable (landing.go), as soon as it is complete, not after
// the writes of the pieces before it.
func (t *Torrent) startVerifiers(ctx context.Context) {
	n := runtime.GOMAXPROCS(0)
	t.verifyQ = make(chan verifyJob, 4*n)
	t.maxVerifying = max(n+1, int(maxVerifyingBytes/t.info.PieceLength))
	storeQ := make(chan verifyResult, t.maxVerifying)
	for range n {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case job := <-t.verifyQ:
					r := t.hash(job)
					out := t.verified
					if r.ok {
						t.land(ctx, r.piece, r.blocks)
						out = storeQ
					}
					select {
					case out <- r:
					case <-ctx.Done():
						t.discard(r)
						return
					}
				}
			}
		}()
	}
	for range storeWriters {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			for {
				select {
				case <-ctx.Done():
					t.storeQueued(storeQ)
					return
				case r := <-storeQ:
					r.err = t.cfg.Storage.WritePiece(r.piece, r.blocks)
					select {
					case t.verified <- r:
					case <-ctx.Done():
						t.discard(r)
						return
					}
				}
			}
		}()
	}
}

// storeQueued writes the verified pieces still queued when the torrent
// stops: a read served them already (landing), and a file read just before
// an unmount is then in the cache. At most maxVerifyingBytes wait there.
func (t *Torrent) storeQueued(storeQ <-chan verifyResult) {
	for {
		select {
		case r := <-storeQ:
			if err := t.cfg.Storage.WritePiece(r.piece, r.blocks); err != nil {
				t.log.Debug("storing a verified piece as the torrent stops", "piece", r.piece, "err", err)
			}
			t.discard(r)
		default:
			return
		}
	}
}

// hash checks a complete piece against its hash, and hashes its blocks
// too when the piece failed (smart ban) or had failed before.
func (t *Torrent) hash(job verifyJob) verifyResult {
	h := sha1.New()
	r := verifyResult{piece: job.piece, blocks: job.blocks}
	for _, b := range job.blocks {
		h.Write(b)
		if job.blockHashes {
			r.blockHashes = append(r.blockHashes, sha1.Sum(b))
		}
	}
	var sum metainfo.Hash
	h.Sum(sum[:0])
	r.ok = sum == t.info.PieceHash(job.piece)
	if !r.ok && !job.blockHashes {
		for _, b := range job.blocks {
			r.blockHashes = append(r.blockHashes, sha1.Sum(b))
		}
	}
	return r
}

// verify hands a complete piece to the verifiers without blocking the loop:
// the queue is sized for every core, and if it is full the hashing starts on a
// goroutine of its own.
func (t *Torrent) verify(piece int, blocks [][]byte) {
	t.verifying++
	job := verifyJob{piece: piece, blocks: blocks, blockHashes: len(t.suspects[piece]) > 0}
	select {
	case t.verifyQ <- job:
	default:
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			r := t.hash(job)
			if r.ok {
				t.land(context.Background(), r.piece, r.blocks)
				r.err = t.cfg.Storage.WritePiece(r.piece, r.blocks)
			}
			t.verified <- r
		}()
	}
}

// handleVerified applies a hash check: a good piece is ours and announced; a
// bad one starts over and its senders are judged (judge.go).
func (t *Torrent) handleVerified(r verifyResult) {
	defer t.releaseBlocks(r.blocks)
	defer t.landing.drop(r.piece) // before the blocks are reused
	if t.verifying--; t.verifying == t.maxVerifying-1 {
		defer t.requestAll() // the backlog is below its bound: resume requests
	}
	from, ids := t.blockSenders(r.piece)
	defer t.forgetSenders(ids)
	if r.ok && r.err != nil {
		t.log.Error("storing a verified piece failed", "piece", r.piece, "err", r.err)
		r.ok = false
	}
	t.picker.Verified(r.piece, r.ok)
	if r.ok {
		t.held.drop(r.piece)
		t.counters.verified.Add(1)
		t.left.Add(-t.info.PieceSize(r.piece))
		t.wake(r.piece)
		t.fillMore()
		t.judgePassed(r.piece, from, r.blockHashes)
		complete := t.picker.Complete()
		for p := range t.peers {
			p.c.out.send(wire.Message{ID: wire.Have, Index: uint32(r.piece)})
			// Nothing more is wanted: tell every peer with nothing we lack,
			// those that keep us choked too (a peer's pipeline running dry,
			// the other place interest is re-examined, never happens with
			// those), so that none counts us among the peers waiting for its
			// upload slots. A mount stays interested in the others.
			if complete {
				t.updateInterest(p)
			}
		}
		t.checkDone()
		return
	}
	// The piece is wanted again. Ask for it now: at the end of a download
	// every pipeline may be idle, and nothing else would until the next tick.
	defer t.requestAll()
	if r.err != nil {
		// The storage cannot take it (a full disk): the reads that want it
		// get it from memory, and it is not fetched again until it is read
		// after it has left memory.
		err := fmt.Errorf("store piece %d: %w", r.piece, r.err)
		select {
		case t.storeErrs <- err:
		default: // the first one is waiting to be taken
		}
		t.held.put(r.piece, r.blocks)
		t.wakeHeld(r.piece)
		return
	}
	t.counters.failed.Add(1)
	t.counters.discarded.Add(t.info.PieceSize(r.piece))
	t.log.Info("piece failed its hash check", "piece", r.piece, "senders", len(ids))
	t.judgeFailed(r.piece, from, r.blockHashes)
}
