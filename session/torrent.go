package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btfs/btfs/cache"
	"github.com/btfs/btfs/dht"
	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/internal/bitfield"
	"github.com/btfs/btfs/magnet"
	"github.com/btfs/btfs/metainfo"
)

// Limits with reasons.
const (
	// maxKnownPeers bounds the addresses a parked torrent keeps for its next
	// engine: enough to fill its connections a few times over.
	maxKnownPeers = 200
	// knownPeersTimeout bounds the question to a stopping engine for its
	// peers: its loop answers from memory.
	knownPeersTimeout = 2 * time.Second
)

// Spec describes a torrent to add: a .torrent (MetaInfo) or a magnet link.
type Spec struct {
	MetaInfo *metainfo.MetaInfo
	Magnet   *magnet.Link // used when MetaInfo is nil
	// Storage holds the data (btfs get, seed from files); nil keeps it in
	// the session's cache. A torrent with its own Storage is never parked.
	Storage fetch.Storage
	Have    bitfield.Bitfield // the pieces Storage holds, verified
	// WantAll downloads every piece; otherwise only what readers ask for,
	// and the rest of the files they have open in the background, unless
	// NoFill.
	WantAll bool
	NoFill  bool
	// Seed keeps the torrent in its swarm: never parked (btfs seed).
	Seed bool
	// Parked adds the torrent without joining its swarm: the first Open
	// does (a library of many torrents).
	Parked bool
	// MetadataTimeout bounds a magnet link's metadata fetch (0: none).
	MetadataTimeout time.Duration
	// Peers are dialed when the engine starts, besides those its trackers,
	// the DHT and PEX name (a magnet link's metadata fetch met them).
	Peers []netip.AddrPort
	// Logger receives the torrent's log (nil: the session's).
	Logger *slog.Logger
}

func (sp Spec) key() (string, error) {
	switch {
	case sp.MetaInfo != nil:
		return sp.MetaInfo.InfoHash.String(), nil
	case sp.Magnet != nil:
		return sp.Magnet.InfoHash.String(), nil
	}
	return "", errors.New("session: a torrent needs a .torrent or a magnet link")
}

// router routes incoming connections by info-hash (fetch.Listener).
type router interface {
	Add(*fetch.Torrent)
	Remove(metainfo.Hash)
}

// parts are what a torrent uses of its session.
type parts struct {
	base     fetch.Config // shared settings: peer id, port, limits, DHT
	router   router
	cache    *cache.Cache // nil: none
	dht      *dht.Node    // nil: none (magnet fetches)
	makeRoom func(except *Torrent)
}

// Torrent is one torrent of a session. Its engine, when active, is a
// fetch.Torrent; parked, it has none.
type Torrent struct {
	key   string
	spec  Spec
	log   *slog.Logger
	p     parts
	ctx   context.Context // the session's
	ready chan struct{}   // closed once the info is known, or the fetch failed (Err)

	refs int // guarded by the session's mu

	lastRead atomic.Int64 // unix nanoseconds of the last read or activation

	mu          sync.Mutex // guards the fields below
	mi          *metainfo.MetaInfo
	store       fetch.Storage
	engine      *fetch.Torrent
	stopEngine  func()
	readers     int // open readers: the engine stays while any is open
	known       []netip.AddrPort
	err         error // the metadata fetch failed
	stopped     bool
	stopResolve func()
	activated   int // engines started, for tests and status
}

func newTorrent(ctx context.Context, key string, spec Spec, p parts) (*Torrent, error) {
	if spec.Storage == nil && p.cache == nil {
		return nil, fmt.Errorf("session: torrent %s has no storage and the session no cache", key)
	}
	log := spec.Logger
	if log == nil {
		log = p.base.Logger
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Torrent{key: key, spec: spec, log: log, p: p, ctx: ctx, ready: make(chan struct{}), refs: 1,
		known: spec.Peers}
	t.touch()
	return t, nil
}

// begin starts the torrent: its engine at once if the info is known (from
// the spec, or kept in the cache for a magnet link), else a metadata fetch.
func (t *Torrent) begin(ctx context.Context) {
	mi := t.spec.MetaInfo
	if mi == nil && t.p.cache != nil {
		mi = cachedInfo(t.p.cache, *t.spec.Magnet, t.log)
	}
	if mi != nil {
		t.mu.Lock()
		t.setInfoLocked(mi)
		if t.spec.Magnet != nil {
			t.known = append(t.known, magnetPeersOf(ctx, *t.spec.Magnet, t)...)
		}
		t.mu.Unlock()
		close(t.ready)
		if !t.spec.Parked {
			t.Activate()
		}
		return
	}
	t.resolve()
}

// magnetPeersOf resolves the peers a link names (x.pe).
func magnetPeersOf(ctx context.Context, link magnet.Link, t *Torrent) []netip.AddrPort {
	mf := &MagnetFetch{link: link, log: t.log}
	return mf.Peers(ctx)
}

// setInfoLocked records the torrent's info and its storage.
func (t *Torrent) setInfoLocked(mi *metainfo.MetaInfo) {
	t.mi = mi
	t.store = t.spec.Storage
	if t.store == nil {
		t.store = t.p.cache.Torrent(mi.InfoHash, &mi.Info)
	}
}

// Key is the torrent's info-hash in hex.
func (t *Torrent) Key() string { return t.key }

// Ready is closed once the torrent's info is known (MetaInfo), or its
// metadata fetch has failed (Err).
func (t *Torrent) Ready() <-chan struct{} { return t.ready }

// MetaInfo is the torrent's, or nil before a magnet link's metadata came.
func (t *Torrent) MetaInfo() *metainfo.MetaInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mi
}

// Err is why the metadata fetch failed, once Ready is closed.
func (t *Torrent) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Name is the torrent's name: the info's, else the link's, else the key.
func (t *Torrent) Name() string {
	if mi := t.MetaInfo(); mi != nil {
		return mi.Info.Name
	}
	if t.spec.Magnet != nil && t.spec.Magnet.Name != "" {
		return t.spec.Magnet.Name
	}
	return t.key
}

// Engine is the running engine, or nil while parked.
func (t *Torrent) Engine() *fetch.Torrent {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.engine
}

// Active reports whether the torrent is in its swarm.
func (t *Torrent) Active() bool { return t.Engine() != nil }

// Activations counts the engines started so far.
func (t *Torrent) Activations() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.activated
}

// OpenReaders is the number of readers open on the torrent.
func (t *Torrent) OpenReaders() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.readers
}

// LastRead is when the torrent was last read or activated.
func (t *Torrent) LastRead() time.Time { return time.Unix(0, t.lastRead.Load()) }

// Have is the pieces held: the engine's, else the storage's.
func (t *Torrent) Have() bitfield.Bitfield {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.engine != nil {
		return t.engine.HaveBitfield()
	}
	return t.storedLocked()
}

func (t *Torrent) storedLocked() bitfield.Bitfield {
	if ts, ok := t.store.(*cache.TorrentStore); ok {
		return ts.Have()
	}
	if t.mi != nil && t.spec.Have.Len() == t.mi.Info.NumPieces() {
		return t.spec.Have
	}
	if t.mi != nil {
		return bitfield.New(t.mi.Info.NumPieces())
	}
	return bitfield.Bitfield{}
}

func (t *Torrent) touch() { t.lastRead.Store(time.Now().UnixNano()) }

// Activate joins the torrent's swarm if it is parked: the engine starts at
// once, dialing the peers it knew and announcing "started". It does
// nothing before the info is known or after the torrent stopped.
func (t *Torrent) Activate() {
	if t.Active() {
		return
	}
	t.p.makeRoom(t) // without our lock: it parks other torrents
	t.mu.Lock()
	defer t.mu.Unlock()
	t.startLocked()
}

// startLocked starts the engine if there is none and there can be one.
func (t *Torrent) startLocked() {
	if t.engine != nil || t.mi == nil || t.stopped {
		return
	}
	cfg := t.p.base
	mi := t.mi
	cfg.Info, cfg.InfoHash, cfg.InfoBytes, cfg.Trackers = &mi.Info, mi.InfoHash, mi.InfoBytes, mi.Trackers
	cfg.Storage, cfg.Have, cfg.WantAll, cfg.NoFill, cfg.Logger = t.store, t.storedLocked(), t.spec.WantAll, t.spec.NoFill, t.log
	e := fetch.New(cfg)
	ctx, cancel := context.WithCancel(t.ctx)
	if len(t.known) > 0 {
		e.AddPeers(ctx, t.known) // buffered: taken when Run starts, dialed at once
	}
	done := make(chan struct{})
	t.p.router.Add(e)
	go func() {
		defer close(done)
		e.Run(ctx)
	}()
	t.engine = e
	t.activated++
	t.touch()
	t.stopEngine = func() {
		t.p.router.Remove(mi.InfoHash)
		cancel()
		<-done
	}
	t.log.Debug("joined the swarm", "name", mi.Info.Name, "info_hash", mi.InfoHash)
}

// Park leaves the swarm: the engine stops (connections closed, "stopped"
// announced), keeping the peers it knew for the next activation. It does
// nothing and returns false while a reader is open, or for a torrent with
// storage of its own, one that seeds (Spec.Seed) or one that downloads
// everything (Spec.WantAll: mount --prefetch).
func (t *Torrent) Park() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.engine == nil || t.readers > 0 || t.spec.Storage != nil || t.spec.Seed || t.spec.WantAll {
		return false
	}
	t.parkLocked()
	t.log.Info("parked: left the swarm until a file is opened", "name", t.mi.Info.Name)
	return true
}

func (t *Torrent) parkLocked() {
	ctx, cancel := context.WithTimeout(t.ctx, knownPeersTimeout)
	if known, err := t.engine.KnownPeers(ctx, maxKnownPeers); err == nil && len(known) > 0 {
		t.known = known
	}
	cancel()
	t.stopEngine()
	t.engine, t.stopEngine = nil, nil
}

// stop ends the torrent for good: its metadata fetch, and its engine once
// no reader is open (force: at once; open readers then fail).
func (t *Torrent) stop(force bool) {
	t.mu.Lock()
	t.stopped = true
	stopResolve := t.stopResolve
	t.mu.Unlock()
	if stopResolve != nil {
		stopResolve()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.engine != nil && (force || t.readers == 0) {
		t.stopEngine()
		t.engine, t.stopEngine = nil, nil
	}
}
