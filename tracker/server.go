package tracker

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btfs/btfs/metainfo"
)

// ServerOptions configure a Server. Zero fields take the defaults named.
type ServerOptions struct {
	// Interval is the announce interval handed to clients (30 min). Peers
	// not heard from for two intervals are dropped. At least a second: the
	// protocols carry whole seconds.
	Interval time.Duration
	// MinInterval is the "min interval" handed to clients (5 min, at most
	// Interval).
	MinInterval time.Duration
	// DefaultNumWant is how many peers an announce gets when it does not
	// say (50); MaxNumWant caps what it may ask for (200).
	DefaultNumWant int
	MaxNumWant     int
	// MaxTorrents, MaxPeers and MaxPeersPerTorrent bound memory (100 000
	// torrents, 1 000 000 peers, 10 000 per torrent). Past MaxTorrents a new
	// torrent is refused; past the peer limits a peer still gets an answer
	// but is not stored until room frees up.
	MaxTorrents        int
	MaxPeers           int
	MaxPeersPerTorrent int
	// Allow, when set, limits the tracker to the torrents it accepts; others
	// are refused with "torrent not allowed". Nil serves any torrent. It is
	// called from many goroutines at once.
	Allow func(metainfo.Hash) bool
	// UDPWorkers is how many goroutines ServeUDP reads with (GOMAXPROCS).
	UDPWorkers int
	// Logger gets errors at Warn and an access log at Debug; nil discards.
	Logger *slog.Logger
	// Now is the clock (time.Now); tests substitute their own.
	Now func() time.Time
}

// AllowOnly returns an Allow function for a fixed set of torrents.
func AllowOnly(hashes ...metainfo.Hash) func(metainfo.Hash) bool {
	set := make(map[metainfo.Hash]struct{}, len(hashes))
	for _, h := range hashes {
		set[h] = struct{}{}
	}
	return func(h metainfo.Hash) bool { _, ok := set[h]; return ok }
}

// Server is a BitTorrent tracker. It is an http.Handler for /announce,
// /scrape and /stats, and ServeUDP answers BEP 15 on a socket. Apart from
// ServeUDP's workers, which that call owns, it runs no goroutines (expired
// peers are swept by the requests themselves, see swarm), so it needs no
// Close. All methods are safe for concurrent use.
type Server struct {
	opts    ServerOptions
	log     *slog.Logger
	swarm   *swarm
	connIDs connIDs
	bufs    sync.Pool // *replyBuf
	// Header values shared by every reply; net/http only reads them.
	hdrText, hdrNoStore []string
	// Counters for /stats; announces are counted per shard.
	scrapes     atomic.Uint64
	refusals    atomic.Uint64
	udpConnects atomic.Uint64
	// Announces answered by protocol, for metrics; monotonic, unlike the
	// difference of two counts read at different times.
	httpAnnounces, udpAnnounces atomic.Uint64
	statsCache                  statsCache
}

// replyBuf is the scratch one request needs, pooled to spare the allocations.
type replyBuf struct {
	out   []byte
	peers []peer
	mac   [16]byte // scratch for connIDs
}

// NewServer checks opts, fills in the defaults and returns a Server.
func NewServer(opts ServerOptions) (*Server, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		connIDs: newConnIDs(),
		hdrText: []string{"text/plain"}, hdrNoStore: []string{"no-store"},
		swarm: newSwarm(swarmLimits{
			maxTorrents:        int64(opts.MaxTorrents),
			maxPeers:           int64(opts.MaxPeers),
			maxPeersPerTorrent: opts.MaxPeersPerTorrent,
			peerTTL:            int64(2 * opts.Interval),
			sweepEvery:         int64(opts.Interval / 2),
		}),
	}
	s.bufs.New = func() any {
		return &replyBuf{out: make([]byte, 0, 2048), peers: make([]peer, 0, opts.MaxNumWant)}
	}
	return s, nil
}

func (o *ServerOptions) setDefaults() error {
	for _, v := range []struct {
		name string
		n    int64
	}{
		{"Interval", int64(o.Interval)}, {"MinInterval", int64(o.MinInterval)},
		{"DefaultNumWant", int64(o.DefaultNumWant)}, {"MaxNumWant", int64(o.MaxNumWant)},
		{"MaxTorrents", int64(o.MaxTorrents)}, {"MaxPeers", int64(o.MaxPeers)},
		{"MaxPeersPerTorrent", int64(o.MaxPeersPerTorrent)}, {"UDPWorkers", int64(o.UDPWorkers)},
	} {
		if v.n < 0 {
			return fmt.Errorf("tracker: negative %s", v.name)
		}
	}
	def := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	def(&o.DefaultNumWant, defaultNumWant)
	def(&o.MaxNumWant, defaultMaxNumWant)
	def(&o.MaxTorrents, defaultMaxTorrents)
	def(&o.MaxPeers, defaultMaxPeers)
	def(&o.MaxPeersPerTorrent, defaultMaxPeersPerTorrent)
	def(&o.UDPWorkers, runtime.GOMAXPROCS(0))
	o.DefaultNumWant = min(o.DefaultNumWant, o.MaxNumWant)
	if o.Interval == 0 {
		o.Interval = defaultInterval
	}
	if o.Interval < time.Second {
		return errors.New("tracker: Interval under a second")
	}
	if o.MinInterval == 0 {
		o.MinInterval = defaultMinInterval
	}
	o.MinInterval = min(o.MinInterval, o.Interval)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// ServeHTTP answers /announce, /scrape and /stats.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/announce":
		s.serveAnnounce(w, r)
	case "/scrape":
		s.serveScrape(w, r)
	case "/stats":
		s.serveStats(w)
	default:
		http.NotFound(w, r)
	}
}

// announce applies the policy shared by HTTP and UDP to a parsed announce
// and appends the peers it gets back to dst.
func (s *Server) announce(a *swarmAnnounce, numWant int, dst []peer) (swarmResult, error) {
	if s.opts.Allow != nil && !s.opts.Allow(a.infoHash) {
		return swarmResult{}, errNotAllowed
	}
	switch {
	case numWant < 0:
		a.numWant = s.opts.DefaultNumWant
	default:
		a.numWant = min(numWant, s.opts.MaxNumWant)
	}
	return s.swarm.announce(a, s.opts.Now().UnixNano(), dst)
}

// peerAddr decides the address a peer is stored and advertised at: the
// source of its request, or the address it claims (the ip parameter) when
// that source is loopback or private. A tracker on the same host or LAN sees
// an address others cannot reach, so a peer there may say which one to use;
// from the Internet a claimed address would let anyone point a swarm at a
// victim, so it is ignored. A claim must be a unicast address literal.
func peerAddr(src, claimed netip.Addr) netip.Addr {
	src = src.Unmap()
	if !claimed.IsValid() || !(src.IsLoopback() || src.IsPrivate()) {
		return src
	}
	if claimed.IsUnspecified() || claimed.IsMulticast() || claimed.IsLinkLocalUnicast() && claimed.Is6() {
		return src
	}
	return claimed.Unmap()
}

func (s *Server) getBuf() *replyBuf { return s.bufs.Get().(*replyBuf) }

func (s *Server) putBuf(b *replyBuf) {
	if cap(b.out) > 64<<10 { // do not keep a rare huge reply's memory
		return
	}
	b.out, b.peers = b.out[:0], b.peers[:0]
	s.bufs.Put(b)
}
