package metadata

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

// Defaults for Options.
const (
	// DefaultMaxPeers is how many peers are connected at once. The metadata
	// is small (tens of pieces): a few peers fetch it in a few round trips,
	// and more would only cost handshakes.
	DefaultMaxPeers = 8
	// DefaultDialTimeout bounds connecting and both handshakes, as the
	// engine's does.
	DefaultDialTimeout = 10 * time.Second
	// DefaultRequestTimeout is how long a peer has to answer a request: a
	// 16 KiB answer takes well under a second from any usable peer.
	DefaultRequestTimeout = 15 * time.Second
)

const (
	// maxRequestsPerPeer bounds the requests outstanding with one peer: two
	// hide a round trip, and stay under the few that clients answer before
	// they start rejecting a peer's metadata requests.
	maxRequestsPerPeer = 2
	// maxAddrs bounds the addresses remembered (each is tried once),
	// however many the source hands over.
	maxAddrs = 2000
	// maxFailures is how many peer failures the final error lists.
	maxFailures = 5
)

// ErrNoMetadata reports that every peer was tried and none gave the
// metadata.
var ErrNoMetadata = errors.New("metadata: no peer sent the metadata")

// Options tune Fetch. The zero value works.
type Options struct {
	// PeerID is ours in the handshakes; zero means a random one.
	PeerID wire.PeerID
	// ListenPort is advertised in our extension handshake, so peers can
	// connect back; 0 advertises none.
	ListenPort int
	// MaxPeers bounds the connections at once; 0 means DefaultMaxPeers.
	MaxPeers int
	// DialTimeout bounds the connect and handshakes; 0 means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// RequestTimeout is how long a peer may leave a request unanswered
	// before it is dropped; 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Dial connects to a peer; nil means TCP.
	Dial func(ctx context.Context, addr netip.AddrPort) (net.Conn, error)
	// Log gets debug messages about peers; nil discards them.
	Log *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.PeerID == (wire.PeerID{}) {
		o.PeerID = wire.NewPeerID("")
	}
	if o.MaxPeers <= 0 {
		o.MaxPeers = DefaultMaxPeers
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Fetch gets the info dictionary of the torrent infoHash from the peers sent
// on peers, which the caller closes when it has no more (or leaves open,
// ending the fetch with ctx). The package documentation lists the rules it
// follows.
//
// The result's Info, InfoHash and InfoBytes are set; its trackers and web
// seeds are the magnet link's to add (magnet.Link.MetaInfo(mi.InfoBytes)).
// The error, when every peer failed, matches ErrNoMetadata; when ctx ended,
// ctx.Err(); when the metadata matches the info-hash but is no valid info
// dictionary, metainfo.ErrInvalid. It says what went wrong with the peers.
func Fetch(ctx context.Context, infoHash metainfo.Hash, peers <-chan netip.AddrPort, opts Options) (*metainfo.MetaInfo, error) {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(ctx)
	f := &fetcher{
		hash: infoHash, opts: opts, log: opts.Log,
		events: make(chan event), sessions: map[*session]bool{}, seen: map[netip.AddrPort]bool{},
	}
	defer func() {
		cancel()
		f.wg.Wait()
	}()
	return f.run(ctx, peers)
}

// fetcher is the state of one Fetch, owned by its loop (run); the
// connections' goroutines only send it events.
type fetcher struct {
	hash   metainfo.Hash
	opts   Options
	log    *slog.Logger
	wg     sync.WaitGroup // the sessions' goroutines
	events chan event

	sessions map[*session]bool // connecting or ready; dropped ones are removed
	seen     map[netip.AddrPort]bool
	nextID   int
	tried    int
	failures []string // the last maxFailures, for the final error

	asm  *assembly // nil until a peer is ready
	gen  int       // the latest attempt's generation
	solo bool      // take the metadata whole from one peer (after a mixed hash failure)
	from *session  // in solo mode: the peer asked, or nil
}

// run is the loop: it starts connections, hands out requests and gathers
// pieces until the metadata is complete and right, or there is no hope.
func (f *fetcher) run(ctx context.Context, peers <-chan netip.AddrPort) (*metainfo.MetaInfo, error) {
	tick := time.NewTicker(max(f.opts.RequestTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		if peers == nil && len(f.sessions) == 0 {
			return nil, fmt.Errorf("%w of %s (%s)", ErrNoMetadata, f.hash, f.summary())
		}
		in := peers
		if len(f.sessions) >= f.opts.MaxPeers {
			in = nil // read addresses only when there is room for them
		}
		select {
		case a, ok := <-in:
			if !ok {
				peers = nil
				continue
			}
			f.start(ctx, a)
		case ev := <-f.events:
			if mi, err := f.handle(ev); mi != nil || err != nil {
				return mi, err
			}
		case now := <-tick.C:
			f.expire(now)
		case <-ctx.Done():
			return nil, fmt.Errorf("metadata: fetching the metadata of %s: %w (%s)", f.hash, ctx.Err(), f.summary())
		}
		f.schedule()
	}
}

// start connects to a, unless it was tried already.
func (f *fetcher) start(ctx context.Context, a netip.AddrPort) {
	if !a.IsValid() || a.Port() == 0 || f.seen[a] || len(f.seen) >= maxAddrs {
		return
	}
	f.seen[a] = true
	f.tried++
	f.nextID++
	sctx, cancel := context.WithCancel(ctx)
	s := &session{id: f.nextID, addr: a, cancel: cancel, reqs: make(chan int, maxRequestsPerPeer), outstanding: map[int]request{}}
	f.sessions[s] = true
	f.wg.Go(func() { f.runSession(sctx, s) })
}

// handle applies one event. It returns the torrent when the metadata is
// complete and right, and an error when it is right but invalid.
func (f *fetcher) handle(ev event) (*metainfo.MetaInfo, error) {
	s := ev.s
	if !f.sessions[s] {
		return nil, nil // dropped meanwhile
	}
	switch ev.kind {
	case evReady:
		s.ready, s.size = true, ev.size
	case evGone:
		f.drop(s, ev.err)
	case evReject:
		f.drop(s, fmt.Errorf("rejected our request for piece %d", ev.msg.Piece))
	case evData:
		return f.piece(s, ev.msg)
	}
	return nil, nil
}

// piece takes a data message from s.
func (f *fetcher) piece(s *session, m wire.MetadataMessage) (*metainfo.MetaInfo, error) {
	req, ok := s.outstanding[m.Piece]
	if !ok {
		f.drop(s, fmt.Errorf("sent metadata piece %d, which we did not ask it for", m.Piece))
		return nil, nil
	}
	delete(s.outstanding, m.Piece)
	if f.asm == nil || req.gen != f.asm.gen {
		return nil, nil // asked for an attempt given up since
	}
	if !f.asm.put(m.Piece, m.Data, s) {
		return nil, nil
	}
	return f.verify()
}

// verify checks the complete metadata against the info-hash. On a mismatch
// it drops the peer that sent it all, or, when several did, turns to solo
// mode; either way a new attempt starts.
func (f *fetcher) verify() (*metainfo.MetaInfo, error) {
	if sha1.Sum(f.asm.buf) == f.hash {
		mi, err := metainfo.FromInfo(f.asm.buf, f.hash, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("metadata: the info dictionary of %s matches its info-hash but is unusable: %w", f.hash, err)
		}
		return mi, nil
	}
	senders := f.asm.contributors()
	if len(senders) == 1 {
		if f.sessions[senders[0]] {
			f.drop(senders[0], errors.New("sent metadata that does not match the info-hash"))
		}
	} else {
		f.log.Debug("metadata: pieces from several peers fail the info-hash; asking one peer at a time", "peers", len(senders))
		f.solo = true
		f.from = nil
	}
	f.newAttempt(f.asm.size)
	return nil, nil
}

// newAttempt starts assembling size bytes afresh.
func (f *fetcher) newAttempt(size int) {
	f.gen++
	if f.asm != nil && f.asm.size == size {
		f.asm.restart(f.gen)
		return
	}
	f.asm = newAssembly(size, f.gen)
}

// drop closes s's connection and forgets it; its pieces in flight go to
// other peers.
func (f *fetcher) drop(s *session, why error) {
	s.cancel()
	delete(f.sessions, s)
	if f.asm != nil {
		for p, req := range s.outstanding {
			if req.gen == f.asm.gen {
				f.asm.asked[p] = false
			}
		}
	}
	if s == f.from {
		f.from = nil
	}
	f.log.Debug("metadata: peer dropped", "peer", s.addr, "err", why)
	if len(f.failures) == maxFailures {
		f.failures = f.failures[1:]
	}
	f.failures = append(f.failures, fmt.Sprintf("%s: %v", s.addr, why))
}

// expire drops the peers that left a request unanswered too long.
func (f *fetcher) expire(now time.Time) {
	for s := range f.sessions {
		for p, req := range s.outstanding {
			if now.Sub(req.sent) > f.opts.RequestTimeout {
				f.drop(s, fmt.Errorf("no answer to a request for piece %d within %v", p, f.opts.RequestTimeout))
				break
			}
		}
	}
}

// schedule picks the size to assemble and hands out requests.
func (f *fetcher) schedule() {
	ready := f.ready()
	if len(ready) == 0 {
		return
	}
	if f.asm == nil || !slices.ContainsFunc(ready, func(s *session) bool { return s.size == f.asm.size }) {
		// No peer offers the size being assembled (or none was chosen):
		// take the size most ready peers claim.
		f.newAttempt(mostClaimed(ready))
	}
	var askable []*session
	for _, s := range ready {
		if s.size == f.asm.size {
			askable = append(askable, s)
		}
	}
	if f.solo {
		if f.from == nil || f.from.size != f.asm.size {
			f.from = askable[0]
			f.newAttempt(f.asm.size) // every piece from this one peer
		}
		askable = []*session{f.from}
	}
	now := time.Now()
	for _, s := range askable {
		if !f.ask(s, now) {
			return
		}
	}
}

// ask sends s requests for missing pieces, up to maxRequestsPerPeer
// outstanding; false when no piece is left to ask for.
func (f *fetcher) ask(s *session, now time.Time) bool {
	for len(s.outstanding) < maxRequestsPerPeer {
		p := f.asm.next()
		if p < 0 {
			return false
		}
		select {
		case s.reqs <- p:
		default:
			// Only a peer answering requests before we sent them can fill
			// the queue (or one whose writer failed).
			f.drop(s, errors.New("answers requests we have not sent"))
			return true
		}
		f.asm.asked[p] = true
		s.outstanding[p] = request{sent: now, gen: f.asm.gen}
	}
	return true
}

// ready returns the ready sessions, in the order they were started.
func (f *fetcher) ready() []*session {
	var out []*session
	for s := range f.sessions {
		if s.ready {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *session) int { return a.id - b.id })
	return out
}

// mostClaimed returns the metadata size most of the peers claim; of sizes
// claimed equally often, the one of the earliest peer.
func mostClaimed(peers []*session) int {
	count := map[int]int{}
	for _, s := range peers {
		count[s.size]++
	}
	best := 0
	for _, s := range peers {
		if best == 0 || count[s.size] > count[best] {
			best = s.size
		}
	}
	return best
}

// summary says what happened, for the final error.
func (f *fetcher) summary() string {
	if f.tried == 0 {
		return "no peers to ask"
	}
	s := fmt.Sprintf("%d peers tried", f.tried)
	if len(f.failures) > 0 {
		s += "; last failures: " + strings.Join(f.failures, "; ")
	}
	return s
}
