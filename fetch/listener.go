package fetch

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

// Listener accepts incoming peer connections on one port for any number of
// torrents and routes each to its torrent by info-hash.
type Listener struct {
	ln      net.Listener
	log     *slog.Logger
	upgrade Upgrade // nil: plain BitTorrent over ln

	mu       sync.Mutex // guards torrents and handshakeTimeout
	torrents map[metainfo.Hash]*Torrent
	// handshakeTimeout bounds incoming handshakes (pending.go); tests
	// shorten it.
	handshakeTimeout time.Duration

	pending *pendingSet
}

// Upgrade turns an accepted connection into the stream that carries the
// peer's BitTorrent handshake (package transport: MSE or plain, by the
// encryption policy); known lists the info-hashes served. It runs under
// the listener's bound on handshakes in progress.
type Upgrade func(ctx context.Context, nc net.Conn, known func() [][20]byte) (net.Conn, error)

// Listen opens a TCP listener on addr (":6881", "127.0.0.1:0").
func Listen(addr string, log *slog.Logger) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return NewListener(ln, nil, log), nil
}

// NewListener serves peers that connect through ln (its Addr must be a
// *net.TCPAddr: the port announced), each first through up if it is set.
func NewListener(ln net.Listener, up Upgrade, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{
		ln: ln, log: log, upgrade: up, torrents: map[metainfo.Hash]*Torrent{},
		pending: newPendingSet(maxPendingHandshakes, maxPendingPerIP), handshakeTimeout: incomingHandshakeTimeout,
	}
}

// known lists the info-hashes served.
func (l *Listener) known() [][20]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([][20]byte, 0, len(l.torrents))
	for h := range l.torrents {
		out = append(out, h)
	}
	return out
}

// Port is the port the listener is bound to.
func (l *Listener) Port() int { return l.ln.Addr().(*net.TCPAddr).Port }

// Addr is the listener's address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Add routes connections for t's info-hash to t.
func (l *Listener) Add(t *Torrent) {
	l.mu.Lock()
	l.torrents[t.cfg.InfoHash] = t
	l.mu.Unlock()
}

// Remove stops routing connections to the torrent with hash h.
func (l *Listener) Remove(h metainfo.Hash) {
	l.mu.Lock()
	delete(l.torrents, h)
	l.mu.Unlock()
}

// Serve accepts connections until ctx ends; it closes the listener and
// waits for the handshakes in progress before returning.
func (l *Listener) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { l.ln.Close() })
	defer stop()
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		l.mu.Lock()
		deadline := time.Now().Add(l.handshakeTimeout)
		l.mu.Unlock()
		nc.SetDeadline(deadline)
		pc := l.pending.admit(nc)
		if pc == nil {
			l.log.Debug("incoming connection refused: too many handshakes from its IP", "peer", nc.RemoteAddr())
			nc.Close()
			continue
		}
		wg.Go(func() {
			defer l.pending.release(pc)
			l.handshake(ctx, nc, deadline)
		})
	}
}

// handshake reads the start of an incoming handshake, within the deadline
// Serve set, and hands the connection to its torrent.
func (l *Listener) handshake(ctx context.Context, nc net.Conn, deadline time.Time) {
	if l.upgrade != nil {
		uctx, cancel := context.WithDeadline(ctx, deadline)
		c, err := l.upgrade(uctx, nc, l.known)
		cancel()
		if err != nil {
			l.log.Debug("incoming connection refused", "peer", nc.RemoteAddr(), "err", err)
			nc.Close()
			return
		}
		// The upgrade clears the deadline it was given: the BitTorrent
		// handshake still owes the rest of the same one.
		nc = c
		nc.SetDeadline(deadline)
	}
	reserved, hash, err := wire.ReadHandshakeStart(nc)
	if err != nil {
		l.log.Debug("incoming handshake failed", "peer", nc.RemoteAddr(), "err", err)
		nc.Close()
		return
	}
	l.mu.Lock()
	t := l.torrents[hash]
	l.mu.Unlock()
	if t == nil {
		l.log.Debug("incoming connection for an unknown torrent", "peer", nc.RemoteAddr(), "info_hash", hash)
		nc.Close()
		return
	}
	t.Accept(ctx, nc, reserved)
}
