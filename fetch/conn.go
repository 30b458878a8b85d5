package fetch

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/btfs/btfs/wire"
)

// Connection timing. A peer that says nothing for idleTimeout is gone (BEP 3
// peers send keep-alives every two minutes at the latest); we send ours well
// inside that.
const (
	idleTimeout      = 3 * time.Minute
	keepAliveEvery   = 90 * time.Second
	handshakeTimeout = 10 * time.Second
	dialTimeout      = 5 * time.Second
	// maxUploadQueue bounds the requests a peer may have queued with us: the
	// reqq we advertise. Requests past it are dropped, as clients expect.
	maxUploadQueue = 500
	// uploadsPerFlush is how many blocks a peer's writer sends per write
	// to the socket when it has a backlog: the four that fill the wire
	// Writer's 64 KiB buffer, a quarter of the system calls of one each.
	uploadsPerFlush = 4
)

// upload is a block a peer asked us for.
type upload struct {
	piece         int
	begin, length uint32
}

// outbox is a peer's queue of messages to send, filled by the loop and
// drained by the peer's writer goroutine. The loop never blocks on it.
type outbox struct {
	mu      sync.Mutex // guards msgs, uploads
	msgs    []wire.Message
	uploads []upload
	wake    chan struct{} // capacity 1: "there is something to send"
}

func newOutbox() *outbox { return &outbox{wake: make(chan struct{}, 1)} }

func (o *outbox) send(m wire.Message) {
	o.mu.Lock()
	o.msgs = append(o.msgs, m)
	o.mu.Unlock()
	o.signal()
}

// queueUpload adds a request to serve; false when the queue is full.
func (o *outbox) queueUpload(u upload) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.uploads) >= maxUploadQueue {
		return false
	}
	o.uploads = append(o.uploads, u)
	o.signal()
	return true
}

// cancelUpload drops a queued request (the peer sent cancel).
func (o *outbox) cancelUpload(u upload) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, q := range o.uploads {
		if q == u {
			o.uploads = append(o.uploads[:i], o.uploads[i+1:]...)
			return
		}
	}
}

// dropUploads forgets every queued request (we choked the peer).
func (o *outbox) dropUploads() {
	o.mu.Lock()
	o.uploads = nil
	o.mu.Unlock()
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// take returns what is queued: all control messages, and one upload (so
// control messages such as choke are never stuck behind many uploads).
func (o *outbox) take() ([]wire.Message, *upload) {
	o.mu.Lock()
	defer o.mu.Unlock()
	msgs := o.msgs
	o.msgs = nil
	var u *upload
	if len(o.uploads) > 0 {
		u = &upload{}
		*u = o.uploads[0]
		o.uploads = o.uploads[1:]
		if len(o.uploads) > 0 {
			o.signal()
		}
	}
	return msgs, u
}

// conn is an established peer connection: its goroutines and the messages
// they exchange with the loop.
type conn struct {
	net.Conn
	addr      netip.AddrPort
	id        wire.PeerID
	reserved  [8]byte
	incoming  bool
	out       *outbox
	cancel    context.CancelFunc
	closeOnce sync.Once
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.cancel()
		c.Conn.Close()
	})
}

// peerMsg is one message from a peer's reader to the loop. block, for a
// piece message, is a pooled copy that the loop now owns.
type peerMsg struct {
	p     *peer
	msg   wire.Message
	block []byte
	err   error // the connection ended; msg is empty
}

// readLoop reads messages and hands them to the loop until the connection
// fails or ctx ends. It always reports the end with a final peerMsg.
func (t *Torrent) readLoop(ctx context.Context, p *peer, r *wire.Reader) {
	report := func(m peerMsg) bool {
		select {
		case t.peerMsgs <- m:
			return true
		case <-ctx.Done():
			return false
		}
	}
	r.ReadBlocksInto(t.blocks.get)
	for {
		p.c.SetReadDeadline(time.Now().Add(idleTimeout))
		msg, err := r.ReadMessage()
		if err != nil {
			report(peerMsg{p: p, err: err})
			return
		}
		if msg.KeepAlive {
			continue // the read deadline moved; nothing else to do
		}
		pm := peerMsg{p: p, msg: msg}
		switch msg.ID {
		case wire.Piece: // read straight into a pooled block (ReadBlocksInto)
			pm.block, pm.msg.Block = msg.Block, nil
			if err := throttle(ctx, t.cfg.DownloadLimit, len(pm.block)); err != nil {
				t.blocks.put(pm.block)
				report(peerMsg{p: p, err: err}) // ctx ended: the connection is closing
				return
			}
		case wire.Bitfield:
			pm.msg.Bitfield = append([]byte(nil), msg.Bitfield...)
		case wire.Extended:
			pm.msg.Payload = append([]byte(nil), msg.Payload...)
		}
		if !report(pm) {
			if pm.block != nil {
				t.blocks.put(pm.block)
			}
			return
		}
	}
}

// writeLoop sends what the loop queues, serves uploads from Storage, and
// keeps the connection alive, until ctx ends or a write fails.
func (t *Torrent) writeLoop(ctx context.Context, p *peer, w *wire.Writer) {
	keepAlive := time.NewTicker(keepAliveEvery)
	defer keepAlive.Stop()
	buf := make([]byte, wire.BlockSize)
	fail := func(err error) {
		// The reader notices the closed connection and reports to the loop.
		t.log.Debug("write failed", "peer", p.c.addr, "err", err)
		p.c.close()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-keepAlive.C:
			if err := w.WriteMessage(wire.Message{KeepAlive: true}); err != nil {
				fail(err)
				return
			}
		case <-p.c.out.wake:
		}
		// Serve up to uploadsPerFlush blocks per write to the socket, taking
		// the control messages queued meanwhile first each time.
		for n := 0; n < uploadsPerFlush; n++ {
			msgs, u := p.c.out.take()
			for _, m := range msgs {
				if err := w.WriteMessage(m); err != nil {
					fail(err)
					return
				}
			}
			if u == nil {
				break
			}
			b := buf[:u.length]
			if err := t.cfg.Storage.ReadAt(b, u.piece, int64(u.begin)); err != nil {
				// The storage dropped the piece (a cache evicting) or cannot
				// read it: the request goes unanswered, the connection stays.
				t.log.Debug("upload: read failed; request dropped", "piece", u.piece, "err", err)
				continue
			}
			if err := throttle(ctx, t.cfg.UploadLimit, len(b)); err != nil {
				return
			}
			if err := w.WriteMessage(wire.Message{ID: wire.Piece, Index: uint32(u.piece), Begin: u.begin, Block: b}); err != nil {
				fail(err)
				return
			}
			t.uploaded.Add(int64(len(b)))
			p.uploaded.Add(int64(len(b)))
		}
		p.c.SetWriteDeadline(time.Now().Add(idleTimeout))
		if err := w.Flush(); err != nil {
			fail(err)
			return
		}
	}
}
