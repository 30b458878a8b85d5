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
	// torrent evicts one that has a single source (see evict.go) or, if
	// none may go, is refused; past the peer limits a peer still gets an
	// answer but is not stored until room frees up.
	MaxTorrents        int
	MaxPeers           int
	MaxPeersPerTorrent int
	// Per source address (an IPv4 address, or an IPv6 /64):
	// PerIPAnnounceRate and PerIPAnnounceBurst are a token bucket for its
	// announces (50 a second, 1000 at once; "stopped" is free), and
	// PerIPMaxTorrents caps the torrents it may be the only source of
	// (1000). Unlimited switches a limit off.
	PerIPAnnounceRate  int
	PerIPAnnounceBurst int
	PerIPMaxTorrents   int
	// TrustIPFrom lists the networks whose requests may name the address
	// to store with the ip parameter (HTTP) or the IP field (UDP), such as
	// a LAN behind the tracker's NAT. From anywhere else the claim is
	// ignored, and so is a claim that is not a unicast address (see
	// peerAddr). Nil trusts no one.
	TrustIPFrom []netip.Prefix
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

// Unlimited, as a per-address limit of ServerOptions, switches it off.
const Unlimited = -1

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
	sources *sources
	connIDs connIDs
	bufs    sync.Pool // *replyBuf
	// Header values shared by every reply; net/http only reads them.
	hdrText, hdrNoStore []string
	// Counters for /stats; announces are counted per shard.
	scrapes     atomic.Uint64
	refusals    atomic.Uint64
	throttled   atomic.Uint64 // of refusals, announces over an address's rate
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
	return newServer(opts, maxSources)
}

// newServer is NewServer with the size of the per-address table, which
// tests shrink.
func newServer(opts ServerOptions, maxSources int) (*Server, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	src := newSources(maxSources, opts.PerIPAnnounceRate, opts.PerIPAnnounceBurst)
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		connIDs: newConnIDs(),
		hdrText: []string{"text/plain"}, hdrNoStore: []string{"no-store"},
		sources: src,
		swarm: newSwarm(swarmLimits{
			maxTorrents:        int64(opts.MaxTorrents),
			maxPeers:           int64(opts.MaxPeers),
			maxPeersPerTorrent: opts.MaxPeersPerTorrent,
			maxOwned:           max(opts.PerIPMaxTorrents, 0),
			peerTTL:            int64(2 * opts.Interval),
			sweepEvery:         int64(opts.Interval / 2),
			staleAfter:         int64(opts.Interval),
		}, src),
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
	for _, v := range []struct {
		name string
		n    int
	}{{"PerIPAnnounceRate", o.PerIPAnnounceRate}, {"PerIPAnnounceBurst", o.PerIPAnnounceBurst}, {"PerIPMaxTorrents", o.PerIPMaxTorrents}} {
		if v.n < Unlimited {
			return fmt.Errorf("tracker: %s %d: give a positive number, or Unlimited", v.name, v.n)
		}
	}
	if o.PerIPAnnounceRate > maxAnnounceRate {
		return fmt.Errorf("tracker: PerIPAnnounceRate %d: at most %d", o.PerIPAnnounceRate, maxAnnounceRate)
	}
	def := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	def(&o.DefaultNumWant, defaultNumWant)
	def(&o.MaxNumWant, defaultMaxNumWant)
	def(&o.MaxTorrents, DefaultMaxTorrents)
	def(&o.MaxPeers, DefaultMaxPeers)
	def(&o.MaxPeersPerTorrent, DefaultMaxPeersPerTorrent)
	def(&o.UDPWorkers, runtime.GOMAXPROCS(0))
	def(&o.PerIPAnnounceRate, DefaultPerIPAnnounceRate)
	def(&o.PerIPAnnounceBurst, DefaultPerIPAnnounceBurst)
	def(&o.PerIPMaxTorrents, DefaultPerIPMaxTorrents)
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
	now := s.opts.Now().UnixNano()
	// A stopped event only ever frees memory: never hold it back.
	if a.event != EventStopped && !s.sources.allowAnnounce(a.src, now) {
		s.throttled.Add(1)
		return swarmResult{}, errSlowDown
	}
	switch {
	case numWant < 0:
		a.numWant = s.opts.DefaultNumWant
	default:
		a.numWant = min(numWant, s.opts.MaxNumWant)
	}
	return s.swarm.announce(a, now, dst)
}

// peerAddr decides the address a peer is stored and advertised at: the
// source of its request, or the address it claims (the ip parameter, the
// UDP IP field) when that source is in TrustIPFrom. A claim from anyone
// else would let them point a swarm at a victim, so it is ignored, as most
// trackers do (BEP 3 makes the parameter optional). A claim must be a
// unicast address a peer can be reached at: never unspecified, broadcast,
// multicast or link-local, and loopback only from loopback.
func (s *Server) peerAddr(src, claimed netip.Addr) netip.Addr {
	src = src.Unmap()
	if !claimed.IsValid() || claimed == src || len(s.opts.TrustIPFrom) == 0 {
		return src
	}
	claimed = claimed.Unmap()
	if !claimed.IsGlobalUnicast() && !(claimed.IsLoopback() && src.IsLoopback()) {
		return src
	}
	for _, p := range s.opts.TrustIPFrom {
		if p.Contains(src) {
			return claimed
		}
	}
	return src
}

func (s *Server) getBuf() *replyBuf { return s.bufs.Get().(*replyBuf) }

func (s *Server) putBuf(b *replyBuf) {
	if cap(b.out) > 64<<10 { // do not keep a rare huge reply's memory
		return
	}
	b.out, b.peers = b.out[:0], b.peers[:0]
	s.bufs.Put(b)
}
