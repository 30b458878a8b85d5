package metadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/btfs/btfs/wire"
)

// maxQueuedRejects bounds the rejects a peer's reader queues for its writer
// (answers to a peer asking us for metadata we lack); past it they are
// dropped, so a peer flooding requests costs nothing but its reads.
const maxQueuedRejects = 4

// Errors that drop a peer at its handshake.
var (
	errNoExtensions = errors.New("peer does not speak the extension protocol (BEP 10)")
	errNoMetadata   = errors.New("peer does not offer ut_metadata")
	errNoSize       = errors.New("peer has no metadata (no metadata_size in its handshake)")
)

// session is one peer connection. id, addr, cancel and reqs are set before
// its goroutines start and never change; the loop alone uses the rest.
type session struct {
	id     int
	addr   netip.AddrPort
	cancel context.CancelFunc
	// reqs carries the pieces the loop asks this peer for to its writer, who
	// drains it; the loop sends without blocking.
	reqs chan int

	ready       bool
	size        int             // metadata_size from its handshake
	outstanding map[int]request // by piece
}

// request is a piece asked of a peer.
type request struct {
	sent time.Time
	gen  int // the attempt it is for
}

// event is what a connection reports to the loop.
type event struct {
	s    *session
	kind eventKind
	size int                  // evReady
	msg  wire.MetadataMessage // evData (Data is the reader's copy), evReject
	err  error                // evGone
}

type eventKind uint8

const (
	evReady  eventKind = iota // handshakes done; size set
	evData                    // a data message
	evReject                  // a reject message
	evGone                    // the connection ended; err says why
)

// runSession connects to s.addr and relays its ut_metadata messages to the
// loop until the connection fails or ctx (the session's own) ends. It always
// reports its end with evGone, unless ctx ended first.
func (f *fetcher) runSession(ctx context.Context, s *session) {
	err := f.converse(ctx, s)
	f.report(ctx, event{s: s, kind: evGone, err: err})
}

// converse connects, reports the peer ready, and runs its reader (here) and
// writer (a goroutine of its own) until the connection ends.
func (f *fetcher) converse(ctx context.Context, s *session) error {
	l, err := f.connect(ctx, s.addr)
	if err != nil {
		return err
	}
	defer l.conn.Close()
	stop := context.AfterFunc(ctx, func() { l.conn.Close() }) // unblocks the reader
	defer stop()
	f.log.Debug("metadata: peer ready", "peer", s.addr, "client", l.client, "metadata_size", l.size)
	if !f.report(ctx, event{s: s, kind: evReady, size: l.size}) {
		return ctx.Err()
	}
	rejects := make(chan int, maxQueuedRejects)
	var wg sync.WaitGroup
	wctx, cancel := context.WithCancel(ctx)
	defer wg.Wait() // after cancel, below
	defer cancel()
	wg.Go(func() { f.writeLoop(wctx, l, s.reqs, rejects) })
	return f.readLoop(ctx, s, l, rejects)
}

// link is a connection whose handshakes are done.
type link struct {
	conn    net.Conn
	r       *wire.Reader
	w       *wire.Writer
	size    int    // the peer's metadata_size
	theirID uint8  // the ID it wants ut_metadata messages sent with
	client  string // its "v", for the log
}

// connect dials addr and exchanges the BEP 3 and BEP 10 handshakes, within
// DialTimeout.
func (f *fetcher) connect(ctx context.Context, addr netip.AddrPort) (*link, error) {
	dctx, cancel := context.WithTimeout(ctx, f.opts.DialTimeout)
	defer cancel()
	var conn net.Conn
	var err error
	if f.opts.Dial != nil {
		conn, err = f.opts.Dial(dctx, addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(dctx, "tcp", addr.String())
	}
	if err != nil {
		return nil, err
	}
	// The deadline ends a silent peer's handshake; AfterFunc ends it when
	// the fetch is cancelled meanwhile.
	deadline, _ := dctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	l, err := f.handshake(conn)
	if !stop() && err == nil {
		err = dctx.Err() // the connection was closed under us
	}
	if err != nil {
		conn.Close()
		if ctx.Err() == nil && (dctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded)) {
			err = fmt.Errorf("no handshake within %v: %w", f.opts.DialTimeout, err)
		}
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return l, nil
}

// handshake exchanges the handshakes on conn: BEP 3's with the extension bit
// set, then BEP 10's, ours advertising ut_metadata.
func (f *fetcher) handshake(conn net.Conn) (*link, error) {
	ours := wire.Handshake{Reserved: wire.DefaultReserved(), InfoHash: f.hash, PeerID: f.opts.PeerID}
	if err := wire.WriteHandshake(conn, ours); err != nil {
		return nil, err
	}
	theirs, err := wire.ReadHandshake(conn)
	switch {
	case err != nil:
		return nil, err
	case theirs.InfoHash != f.hash:
		return nil, fmt.Errorf("peer answered for torrent %s", theirs.InfoHash)
	case !theirs.SupportsExtensions():
		return nil, errNoExtensions
	}
	hs := wire.ExtendedHandshake{Port: f.opts.ListenPort, Version: "btfs"}
	Advertise(&hs, 0)
	payload, err := hs.Encode()
	if err != nil {
		return nil, err
	}
	l := &link{conn: conn, w: wire.NewWriter(conn), r: wire.NewReader(conn, 0)}
	if err := l.w.WriteMessage(wire.Message{ID: wire.Extended, ExtendedID: wire.ExtendedHandshakeID, Payload: payload}); err != nil {
		return nil, err
	}
	if err := l.w.Flush(); err != nil {
		return nil, err
	}
	// Peers send their bitfield, have and other messages around their
	// extension handshake: read past them until it comes (the deadline
	// bounds the wait).
	for {
		m, err := l.r.ReadMessage()
		if err != nil {
			return nil, err
		}
		if m.KeepAlive || m.ID != wire.Extended || m.ExtendedID != wire.ExtendedHandshakeID {
			continue
		}
		eh, err := wire.ParseExtendedHandshake(m.Payload)
		if err != nil {
			return nil, err
		}
		id := eh.M[wire.MetadataExtension]
		switch {
		case id == 0:
			return nil, errNoMetadata
		case eh.MetadataSize <= 0:
			return nil, errNoSize
		case eh.MetadataSize > wire.MaxMetadataSize:
			return nil, fmt.Errorf("peer's metadata_size %d is over the limit of %d", eh.MetadataSize, wire.MaxMetadataSize)
		}
		l.size, l.theirID, l.client = eh.MetadataSize, uint8(id), eh.Version
		return l, nil
	}
}

// readLoop reads the peer's messages and reports its ut_metadata answers to
// the loop, until the connection fails or breaks BEP 9.
func (f *fetcher) readLoop(ctx context.Context, s *session, l *link, rejects chan<- int) error {
	for {
		m, err := l.r.ReadMessage()
		if err != nil {
			return err
		}
		if m.KeepAlive || m.ID != wire.Extended || m.ExtendedID != LocalExtendedID {
			continue // the rest of BitTorrent: nothing we want before the metadata
		}
		mm, err := wire.ParseMetadataMessage(m.Payload, l.size)
		if err != nil {
			return err
		}
		var ev event
		switch mm.Type {
		case wire.MetadataRequest:
			select { // we have no metadata to give: say so, if there is room
			case rejects <- mm.Piece:
			default:
			}
			continue
		case wire.MetadataData:
			mm.Data = bytes.Clone(mm.Data) // the Reader reuses its buffer
			ev = event{s: s, kind: evData, msg: mm}
		case wire.MetadataReject:
			ev = event{s: s, kind: evReject, msg: mm}
		default:
			continue // BEP 9: ignore unknown msg_types
		}
		if !f.report(ctx, ev) {
			return ctx.Err()
		}
	}
}

// writeLoop sends the requests the loop queues and the rejects the reader
// queues, until ctx ends or a write fails (which closes the connection, so
// the reader ends too).
func (f *fetcher) writeLoop(ctx context.Context, l *link, reqs, rejects <-chan int) {
	for {
		var m wire.MetadataMessage
		select {
		case <-ctx.Done():
			return
		case p := <-reqs:
			m = wire.MetadataMessage{Type: wire.MetadataRequest, Piece: p}
		case p := <-rejects:
			m = wire.MetadataMessage{Type: wire.MetadataReject, Piece: p}
		}
		payload, err := m.Encode()
		if err == nil {
			l.conn.SetWriteDeadline(time.Now().Add(f.opts.RequestTimeout))
			err = l.w.WriteMessage(wire.Message{ID: wire.Extended, ExtendedID: l.theirID, Payload: payload})
		}
		if err == nil {
			err = l.w.Flush()
		}
		if err != nil {
			f.log.Debug("metadata: write failed", "err", err)
			l.conn.Close()
			return
		}
	}
}

// report hands an event to the loop; false if ctx ended first.
func (f *fetcher) report(ctx context.Context, ev event) bool {
	select {
	case f.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}
