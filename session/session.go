// Package session holds what one btfs process shares across its torrents:
// one peer listener (incoming handshakes routed by info-hash), one DHT
// node, one piece cache, the rate limits, and the torrents themselves,
// added and removed at run time. A torrent is active (its engine runs, in
// its swarm) or parked (no engine, no connection, no announce: it costs a
// few hundred bytes); reading a parked torrent activates it at once, and an
// idle one is parked again (IdleTimeout, MaxActive).
//
// Each torrent gets the narrow parts it uses (a router for incoming
// connections, the cache, the shared engine settings), never the session.
//
// Lock order: Session.mu before Torrent.mu; a torrent never calls into the
// session with its own lock held.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/btfs/btfs/cache"
	"github.com/btfs/btfs/dht"
	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/wire"
	"golang.org/x/time/rate"
)

// Config is what a session's torrents share. The session owns the
// Listener, the DHT node and the Cache it is given: Close closes them.
type Config struct {
	PeerID   wire.PeerID
	Listener *fetch.Listener
	DHT      *dht.Node    // nil: no DHT
	Cache    *cache.Cache // nil: every torrent brings its Storage
	// MaxPeers bounds each torrent's connections (0: fetch's default).
	MaxPeers int
	// Dial opens outgoing peer connections (the transports and encryption
	// the flags allow; package transport); nil: plain TCP.
	Dial Dialer
	// DownloadLimit and UploadLimit bound all torrents together (nil: none).
	DownloadLimit, UploadLimit *rate.Limiter
	// AnnounceMinWait is passed to every engine (fetch.Config).
	AnnounceMinWait time.Duration
	// IdleTimeout parks a torrent with no open file and no read for this
	// long; 0 never parks for idleness.
	IdleTimeout time.Duration
	// MaxActive bounds the torrents with an engine at once: activating one
	// more parks the least recently read idle one first; 0: no bound.
	MaxActive int
	Logger    *slog.Logger
}

// ErrClosed is returned by Add on a closed session.
var ErrClosed = errors.New("session: closed")

// Session is one process's set of torrents and what they share.
type Session struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // ends at Close: every engine and fetch runs under it
	cancel context.CancelFunc
	wg     sync.WaitGroup // the listener and the idle loop

	mu       sync.Mutex // guards torrents, closed
	torrents map[string]*Torrent
	closed   bool
}

// New starts a session: its listener accepts peers at once.
func New(cfg Config) *Session {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, torrents: map[string]*Torrent{}}
	s.wg.Go(func() {
		if err := cfg.Listener.Serve(ctx); err != nil {
			s.log.Error("peer listener stopped", "err", err)
		}
	})
	if cfg.IdleTimeout > 0 {
		s.wg.Go(func() { s.parkIdle(ctx) })
	}
	return s
}

// Port is the TCP port peers reach this session on.
func (s *Session) Port() int { return s.cfg.Listener.Port() }

// Cache is the session's piece cache (nil if it has none).
func (s *Session) Cache() *cache.Cache { return s.cfg.Cache }

// DHT is the session's DHT node (nil if it has none).
func (s *Session) DHT() *dht.Node { return s.cfg.DHT }

// PeerID is our peer id in every swarm.
func (s *Session) PeerID() wire.PeerID { return s.cfg.PeerID }

// Add adds a torrent, or takes one more reference to it if it is in the
// session already (two mounts of one torrent share its engine): each Add
// is undone by one Remove. A .torrent's torrent is active when Add returns
// (unless spec.Parked); a magnet link's fetches its metadata first (Ready).
func (s *Session) Add(ctx context.Context, spec Spec) (*Torrent, error) {
	key, err := spec.key()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if t := s.torrents[key]; t != nil {
		t.refs++
		s.mu.Unlock()
		return t, nil
	}
	t, err := newTorrent(s.ctx, key, spec, s.parts())
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.torrents[key] = t
	s.mu.Unlock()
	t.begin(ctx)
	return t, nil
}

// parts is what each torrent is handed.
func (s *Session) parts() parts {
	base := fetch.Config{PeerID: s.cfg.PeerID, ListenPort: s.cfg.Listener.Port(), MaxPeers: s.cfg.MaxPeers,
		DownloadLimit: s.cfg.DownloadLimit, UploadLimit: s.cfg.UploadLimit, AnnounceMinWait: s.cfg.AnnounceMinWait,
		Dial: s.cfg.Dial}
	base.Logger = s.log
	p := parts{base: base, router: s.cfg.Listener, dht: s.cfg.DHT, makeRoom: s.makeRoom}
	if s.cfg.DHT != nil {
		p.base.DHT = s.cfg.DHT
	}
	if s.cfg.Cache != nil {
		p.cache = s.cfg.Cache
	}
	return p
}

// Remove drops one reference to the torrent key (the info-hash in hex);
// the last one stops it (stopped announce, connections closed) and takes
// it out of the session. Readers still open keep the engine until closed.
// Its cached pieces stay.
func (s *Session) Remove(key string) error {
	s.mu.Lock()
	t := s.torrents[key]
	if t == nil {
		s.mu.Unlock()
		return fmt.Errorf("session: no torrent %s", key)
	}
	t.refs--
	last := t.refs == 0
	if last {
		delete(s.torrents, key)
	}
	s.mu.Unlock()
	if last {
		t.stop(false)
	}
	return nil
}

// Torrent returns the torrent key, or nil.
func (s *Session) Torrent(key string) *Torrent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.torrents[key]
}

// Torrents returns every torrent, the active ones first, then by key.
func (s *Session) Torrents() []*Torrent {
	s.mu.Lock()
	ts := make([]*Torrent, 0, len(s.torrents))
	for _, t := range s.torrents {
		ts = append(ts, t)
	}
	s.mu.Unlock()
	SortActiveFirst(ts)
	return ts
}

// SortActiveFirst orders torrents as status shows them: active first,
// then by key.
func SortActiveFirst(ts []*Torrent) {
	slices.SortFunc(ts, func(a, b *Torrent) int {
		if aa, ba := a.Active(), b.Active(); aa != ba {
			if aa {
				return -1
			}
			return 1
		}
		if a.key < b.key {
			return -1
		}
		if a.key > b.key {
			return 1
		}
		return 0
	})
}

// Close stops every torrent (each says "stopped" to its trackers), the
// listener, the DHT node and the cache, in that order.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ts := make([]*Torrent, 0, len(s.torrents))
	for _, t := range s.torrents {
		ts = append(ts, t)
	}
	s.torrents = map[string]*Torrent{}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range ts {
		wg.Go(func() { t.stop(true) })
	}
	wg.Wait()
	s.cancel()
	s.wg.Wait()
	if s.cfg.DHT != nil {
		s.cfg.DHT.Close()
	}
	if s.cfg.Cache != nil {
		return s.cfg.Cache.Close()
	}
	return nil
}
