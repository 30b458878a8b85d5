package fetch

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btfs/btfs/wire"
)

// sendReqq sends the extension handshake of a peer that accepts n requests.
func (s *scripted) sendReqq(n int) {
	s.t.Helper()
	payload, err := wire.ExtendedHandshake{ReqQ: n}.Encode()
	if err != nil {
		s.t.Fatal(err)
	}
	s.send(wire.Message{ID: wire.Extended, ExtendedID: 0, Payload: payload})
}

// serve answers every request with the right block of data until the
// connection ends, calling onServe after each; it returns a function that
// ends it and waits.
func (s *scripted) serve(data []byte, onServe func()) (stop func()) {
	var wg sync.WaitGroup
	wg.Go(func() {
		s.c.SetDeadline(time.Time{})
		for {
			m, err := s.r.ReadMessage()
			if err != nil {
				return
			}
			if m.KeepAlive || m.ID != wire.Request {
				continue
			}
			off := s.mi.Info.PieceOffset(int(m.Index)) + int64(m.Begin)
			err = s.w.WriteMessage(wire.Message{ID: wire.Piece, Index: m.Index, Begin: m.Begin, Block: data[off : off+int64(m.Length)]})
			if err == nil {
				err = s.w.Flush()
			}
			if err != nil {
				return
			}
			onServe()
		}
	})
	return func() { s.c.Close(); wg.Wait() }
}

// A peer that says it accepts 4 requests (BEP 10 reqq) gets no more than 4
// at a time, although our pipelines start at 16: requests past a peer's
// reqq are dropped silently, and the download then stalls on them.
func TestRequestsStayWithinReqq(t *testing.T) {
	mi, src := makeContent(t, 512<<10, 64<<10)
	leecher := startNode(t, mi, t.TempDir(), false, nil)
	p := dialScripted(t, leecher, mi, wire.DefaultReserved())
	p.sendReqq(4)
	p.send(wire.Message{ID: wire.Bitfield, Bitfield: bitfieldOf(mi.Info.NumPieces(), allPieces(mi)...)}, wire.Message{ID: wire.Unchoke})
	var reqs []wire.Message
	for len(reqs) < 4 {
		reqs = append(reqs, p.expect(wire.Request))
	}
	// No fifth, even after a tick, when every pipeline is topped up.
	p.c.SetReadDeadline(time.Now().Add(tick + tick/2))
	for {
		m, err := p.r.ReadMessage()
		if err != nil {
			break // the deadline: nothing more was asked
		}
		if m.ID == wire.Request && !m.KeepAlive {
			t.Fatalf("a fifth request (piece %d+%d) to a peer that accepts 4", m.Index, m.Begin)
		}
	}
	// Answering one lets one more through.
	p.c.SetDeadline(time.Now().Add(10 * time.Second))
	data, err := os.ReadFile(filepath.Join(src, "content.bin"))
	if err != nil {
		t.Fatal(err)
	}
	off := mi.Info.PieceOffset(int(reqs[0].Index)) + int64(reqs[0].Begin)
	p.send(wire.Message{ID: wire.Piece, Index: reqs[0].Index, Begin: reqs[0].Begin, Block: data[off : off+int64(reqs[0].Length)]})
	p.expect(wire.Request)
}

// slowStore is a disk slower than the network: one write at a time, each
// taking a while.
type slowStore struct {
	Storage
	mu     sync.Mutex
	delay  time.Duration
	stored atomic.Int64
}

func (s *slowStore) WritePiece(piece int, blocks [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	time.Sleep(s.delay)
	err := s.Storage.WritePiece(piece, blocks)
	s.stored.Add(1)
	return err
}

// When storage is slower than the network, downloading waits for it: the
// pieces held in memory, waiting to be hashed and stored, stay bounded. They
// used to pile up, a goroutine each, for as long as the download lasted.
func TestSlowStorageBoundsTheBacklog(t *testing.T) {
	mi, src := makeContent(t, 2<<20, 32<<10) // 64 pieces of 2 blocks
	var slow *slowStore
	leecher := startNode(t, mi, t.TempDir(), false, func(c *Config) {
		slow = &slowStore{Storage: c.Storage, delay: 2 * time.Millisecond}
		c.Storage = slow
	})
	const bound = 4
	leecher.t.do(t.Context(), func() { leecher.t.maxVerifying = bound })
	data, err := os.ReadFile(filepath.Join(src, "content.bin"))
	if err != nil {
		t.Fatal(err)
	}
	p := dialScripted(t, leecher, mi, wire.DefaultReserved())
	const reqq = 16 // at most 8 pieces in flight on top of the backlog
	p.sendReqq(reqq)
	p.send(wire.Message{ID: wire.Bitfield, Bitfield: bitfieldOf(mi.Info.NumPieces(), allPieces(mi)...)}, wire.Message{ID: wire.Unchoke})
	var served, peak atomic.Int64
	stop := p.serve(data, func() {
		// Pieces sent but not yet stored: in the leecher's memory.
		backlog := served.Add(1)/2 - slow.stored.Load()
		if backlog > peak.Load() {
			peak.Store(backlog)
		}
	})
	t.Cleanup(stop)
	waitDone(t, leecher, 30*time.Second)
	if limit := int64(bound + reqq/2 + 1); peak.Load() > limit {
		t.Fatalf("up to %d complete pieces waited for storage at once, want at most %d", peak.Load(), limit)
	}
}
