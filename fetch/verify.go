package fetch

import (
	"context"
	"crypto/sha1"
	"fmt"
	"net/netip"
	"runtime"
	"slices"

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

// blockRecord remembers, for a piece that failed, who sent each block and
// what it hashed to. When the piece later verifies, a block that differs
// from the good data names its sender (libtorrent's "smart ban").
type blockRecord struct {
	index int
	from  netip.AddrPort
	hash  metainfo.Hash
}

// startVerifiers starts the goroutines that hash complete pieces and store
// the good ones, off the loop and the network goroutines.
func (t *Torrent) startVerifiers(ctx context.Context) {
	n := runtime.GOMAXPROCS(0)
	t.verifyQ = make(chan verifyJob, 4*n)
	t.maxVerifying = max(n+1, int(maxVerifyingBytes/t.info.PieceLength))
	for range n {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case job := <-t.verifyQ:
					r := t.check(job)
					select {
					case t.verified <- r:
					case <-ctx.Done():
						t.releaseBlocks(r.blocks)
						return
					}
				}
			}
		}()
	}
}

func (t *Torrent) check(job verifyJob) verifyResult {
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
	if r.ok {
		r.err = t.cfg.Storage.WritePiece(job.piece, job.blocks)
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
			t.verified <- t.check(job)
		}()
	}
}

// handleVerified applies a hash check: a good piece is ours and announced; a
// bad one starts over and its senders are judged.
func (t *Torrent) handleVerified(r verifyResult) {
	defer t.releaseBlocks(r.blocks)
	if t.verifying--; t.verifying == t.maxVerifying-1 {
		defer t.requestAll() // the backlog is below its bound: resume requests
	}
	contributors := t.contributors(r.piece)
	if r.ok && r.err != nil {
		t.log.Error("storing a verified piece failed", "piece", r.piece, "err", r.err)
		r.ok = false
		contributors = nil // not the peers' fault
	}
	bad := t.picker.Verified(r.piece, r.ok)
	if r.ok {
		t.held.drop(r.piece)
		t.counters.verified.Add(1)
		t.left.Add(-t.info.PieceSize(r.piece))
		t.wake(r.piece)
		t.smartBan(r.piece, r.blockHashes)
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
	t.log.Info("piece failed its hash check", "piece", r.piece, "senders", len(bad))
	for i, id := range contributors {
		t.suspects[r.piece] = append(t.suspects[r.piece], blockRecord{index: i, from: id, hash: r.blockHashes[i]})
	}
	senders := map[netip.AddrPort]bool{}
	for _, k := range contributors {
		senders[k] = true
	}
	for k := range senders {
		p := t.peerByAddr(k)
		if len(senders) == 1 {
			t.ban(k, p, fmt.Errorf("sent every block of piece %d, which failed its hash check", r.piece))
			continue
		}
		if p != nil {
			if p.strikes++; p.strikes >= maxStrikes {
				t.ban(k, p, fmt.Errorf("contributed to %d pieces that failed their hash check", p.strikes))
			}
		}
	}
}

// contributors lists who sent each block of a complete piece.
func (t *Torrent) contributors(piece int) []netip.AddrPort {
	senders := t.picker.Senders(piece)
	addrs := make([]netip.AddrPort, len(senders))
	for i, id := range senders {
		addrs[i] = t.addrOf[id]
	}
	return addrs
}

// smartBan compares the good piece's blocks with what each suspect sent
// when the piece failed, and bans those whose blocks differed.
func (t *Torrent) smartBan(piece int, good []metainfo.Hash) {
	records := t.suspects[piece]
	delete(t.suspects, piece)
	if len(good) == 0 {
		return
	}
	var liars []netip.AddrPort
	for _, rec := range records {
		if rec.index < len(good) && rec.hash != good[rec.index] && !slices.Contains(liars, rec.from) {
			liars = append(liars, rec.from)
		}
	}
	for _, k := range liars {
		t.ban(k, t.peerByAddr(k), fmt.Errorf("sent corrupt data for piece %d", piece))
	}
}

func (t *Torrent) peerByAddr(a netip.AddrPort) *peer {
	for p := range t.peers {
		if p.c.addr == a {
			return p
		}
	}
	return nil
}

// ban refuses a peer address for the rest of the session and drops it.
func (t *Torrent) ban(a netip.AddrPort, p *peer, why error) {
	t.banned[a] = true
	t.log.Warn("peer banned", "peer", a, "why", why)
	if p != nil {
		t.dropPeer(p, why)
	}
}
