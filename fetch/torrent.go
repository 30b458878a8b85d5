package fetch

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btfs/btfs/fetch/choke"
	"github.com/btfs/btfs/fetch/picker"
	"github.com/btfs/btfs/internal/bitfield"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/tracker"
	"github.com/btfs/btfs/wire"
	"golang.org/x/time/rate"
)

// Limits with reasons.
const (
	// DefaultMaxPeers bounds connections per torrent: enough for a healthy
	// swarm's throughput, few enough that per-peer state stays small.
	DefaultMaxPeers = 60
	// maxDialing bounds connection attempts in flight at once.
	maxDialing = 16
	// DefaultSnubTimeout: a peer with requests outstanding that sends no
	// block for this long loses its requests to other peers.
	DefaultSnubTimeout = 20 * time.Second
	// tick paces the loop's periodic work: rates, snubbing, dialing.
	tick = time.Second
	// maxVerifyingBytes bounds the complete pieces held in memory while
	// they wait to be hashed and stored. When storage is slower than the
	// network, requests pause at this point instead of the backlog growing
	// at the difference of the two rates for as long as the download runs.
	maxVerifyingBytes = 32 << 20
)

// Config describes a torrent to download or seed.
type Config struct {
	Info     *metainfo.Info
	InfoHash metainfo.Hash
	// InfoBytes is the info dictionary exactly as hashed (metainfo's
	// InfoBytes): served to peers that ask for it by ut_metadata (BEP 9),
	// as magnet links need. Nil serves nothing and advertises no metadata.
	InfoBytes []byte
	PeerID    wire.PeerID
	Storage   Storage
	// Have lists the pieces Storage already holds, verified (from Check or
	// from the cache's index); nil means none.
	Have bitfield.Bitfield
	// NoFill turns the background fill of open files off (fill.go).
	NoFill bool
	// WantAll downloads every piece (btfs get); otherwise nothing is fetched
	// unless asked for (the mount).
	WantAll bool
	// Trackers are announced to (BEP 12 tiers); peers they return are dialed.
	Trackers [][]string
	// ListenPort is the port other peers reach us on (announced, and used to
	// skip ourselves in tracker answers).
	ListenPort  int
	MaxPeers    int           // 0: DefaultMaxPeers
	SnubTimeout time.Duration // 0: DefaultSnubTimeout
	// IdlePeerTimeout: a peer of no use for this long is dropped, and one
	// that exchanged no data for a quarter of it may give its slot to a
	// new connection (turnover.go); 0: DefaultIdlePeerTimeout.
	IdlePeerTimeout time.Duration
	UnchokeSlots    int // 0: choke.DefaultSlots
	Logger          *slog.Logger
	// Dial opens outgoing connections for the torrent infoHash (MSE's
	// secret key; package transport), returning the stream to send the
	// BitTorrent handshake on; nil uses a net.Dialer with a timeout.
	Dial func(ctx context.Context, addr netip.AddrPort, infoHash metainfo.Hash) (net.Conn, error)
	// AnnounceMinWait is the least time between regular announces, whatever
	// the tracker asks; 0 keeps the announcer's default (a minute). Local
	// swarms and tests shorten it so that peers hear of late joiners soon.
	AnnounceMinWait time.Duration
	// DownloadLimit and UploadLimit bound the bytes of blocks received and
	// sent (NewRateLimit); nil is unlimited. A slowed reader leaves data in
	// the socket, so TCP slows the peer down too.
	DownloadLimit, UploadLimit *rate.Limiter
	// DHT, if set, finds peers and announces ListenPort (BEP 5), beside
	// the trackers; peers that run a node hear of ours by PORT messages.
	// Private torrents (Info.Private, BEP 27) never use it, nor PEX.
	DHT DHT
	// PexInterval is how often the torrent looks for peers due a PEX
	// message (pex.go); 0 means DefaultPexInterval. Tests shorten it;
	// messages to one peer stay wire.PexInterval apart whatever it is.
	PexInterval time.Duration
}

// Torrent is one torrent's swarm engine. Create it with New, start Run, and
// feed it peers (AddPeers) and incoming connections (Accept).
type Torrent struct {
	cfg    Config
	log    *slog.Logger
	info   *metainfo.Info
	blocks *blockPool

	// Channels into the loop.
	peerMsgs chan peerMsg
	conns    chan *conn
	dialEnd  chan dialResult
	verified chan verifyResult
	landed   chan int // a verified piece is readable from memory (landing.go)
	addPeers chan peerBatch
	queries  chan func()
	pings    chan netip.AddrPort // DHT nodes to ping (dht.go); nil without the DHT

	// Counters shared with other goroutines.
	uploaded, downloaded atomic.Int64
	left                 atomic.Int64       // bytes of wanted pieces not yet verified
	done                 chan struct{}      // closed when every wanted piece is verified
	stopped              chan struct{}      // closed when Run has returned
	storeErrs            chan error         // cap 1: a verified piece could not be stored
	held                 heldPieces         // verified pieces the storage refused (held.go)
	landing              landingPieces      // verified pieces being written (landing.go)
	announcer            *tracker.Announcer // set before Run's goroutines start; nil without trackers
	bans                 *banList           // written by the loop, read by Accept (bans.go)

	// Loop-owned state (only the Run goroutine touches these).
	picker     *picker.Picker
	choker     *choke.Choker
	peers      map[*peer]struct{}
	byID       map[wire.PeerID]*peer
	nextPeerID int
	addrOf     map[int]netip.AddrPort // picker peer id -> address, for blame
	book       *addrBook              // candidates to dial (addrbook.go)
	dialing    int
	pieces     map[int][][]byte      // blocks of pieces being downloaded
	suspects   map[int][]blockRecord // smart ban (smartban.go)
	trust      trustTable            // trust.go
	verifyQ    chan verifyJob
	demand     demand           // what readers want (demand.go)
	fill       map[int]struct{} // pieces the background fill wants (fill.go)

	// have mirrors the picker's verified pieces for Readers on other
	// goroutines; written only by the loop.
	have       haveView
	doneClosed bool
	cancelled  int64 // requests withdrawn, for Stats
	pickBuf    []picker.Block
	peerOrder  []*peer // requestAll's scratch

	// Complete pieces handed to the verifiers and not yet back, and their
	// bound: maxVerifyingBytes in pieces, and at least one more than there
	// are verifiers, so that none of them ever waits for work.
	verifying, maxVerifying int

	counters counters // totals for Stats (stats.go), updated from any goroutine

	wg sync.WaitGroup // peer, dial and verifier goroutines
}

// New prepares a torrent; nothing runs until Run.
func New(cfg Config) *Torrent {
	if cfg.MaxPeers == 0 {
		cfg.MaxPeers = DefaultMaxPeers
	}
	if cfg.SnubTimeout == 0 {
		cfg.SnubTimeout = DefaultSnubTimeout
	}
	if cfg.IdlePeerTimeout == 0 {
		cfg.IdlePeerTimeout = DefaultIdlePeerTimeout
	}
	if cfg.UnchokeSlots == 0 {
		cfg.UnchokeSlots = choke.DefaultSlots
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	seed := rand.Uint64()
	t := &Torrent{
		cfg: cfg, info: cfg.Info, blocks: newBlockPool(),
		log:       cfg.Logger.With("torrent", cfg.InfoHash.String()[:8]),
		peerMsgs:  make(chan peerMsg, 256),
		conns:     make(chan *conn),
		dialEnd:   make(chan dialResult),
		verified:  make(chan verifyResult),
		landed:    make(chan int),
		addPeers:  make(chan peerBatch, 4),
		queries:   make(chan func()),
		done:      make(chan struct{}),
		stopped:   make(chan struct{}),
		storeErrs: make(chan error, 1),
		picker:    picker.New(cfg.Info.PieceLength, cfg.Info.Length, rand.New(rand.NewPCG(seed, 1))),
		choker:    choke.New(cfg.UnchokeSlots, rand.New(rand.NewPCG(seed, 2))),
		peers:     map[*peer]struct{}{},
		byID:      map[wire.PeerID]*peer{},
		addrOf:    map[int]netip.AddrPort{},
		book:      newAddrBook(),
		pieces:    map[int][][]byte{},
		suspects:  map[int][]blockRecord{},
		trust:     newTrustTable(),
		bans:      newBanList(),
		demand:    newDemand(),
		fill:      map[int]struct{}{},
		have:      haveView{bf: bitfield.New(cfg.Info.NumPieces())},
	}
	if cfg.Have.Len() == cfg.Info.NumPieces() {
		for i := range cfg.Info.NumPieces() {
			if cfg.Have.Has(i) {
				t.picker.SetHave(i)
				t.have.bf.Set(i)
			}
		}
	}
	if cfg.WantAll {
		t.picker.WantAll()
	}
	return t
}

// Done is closed when every wanted piece is verified and stored.
func (t *Torrent) Done() <-chan struct{} { return t.done }

// StoreErrors delivers failures to store a verified piece (a full disk, a
// read-only directory): the piece is not counted as had, and a download
// that cannot store what it fetches should stop rather than fetch it again.
func (t *Torrent) StoreErrors() <-chan error { return t.storeErrs }

// AddPeers offers addresses to connect to, trusted as a tracker's answer
// is: they always find room in the address book (addrbook.go).
func (t *Torrent) AddPeers(ctx context.Context, addrs []netip.AddrPort) {
	t.addPeersFrom(ctx, addrs, fromTracker)
}

// peerBatch is addresses from one source, on their way to the loop.
type peerBatch struct {
	addrs []netip.AddrPort
	src   peerSource
}

func (t *Torrent) addPeersFrom(ctx context.Context, addrs []netip.AddrPort, src peerSource) {
	select {
	case t.addPeers <- peerBatch{addrs: addrs, src: src}:
	case <-ctx.Done():
	}
}

// errStopped is returned by queries made after Run has returned.
var errStopped = errors.New("fetch: torrent stopped")

// do runs f on the loop goroutine and waits for it.
func (t *Torrent) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case t.queries <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-t.stopped:
		return errStopped
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run is the event loop. It returns when ctx ends, after closing every
// connection and waiting for the goroutines it started.
func (t *Torrent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		for p := range t.peers {
			p.c.close()
		}
		t.drainUntilIdle()
		for _, blocks := range t.pieces {
			t.releaseBlocks(blocks)
		}
		close(t.stopped)
	}()
	t.startVerifiers(ctx)
	t.updateLeft()
	t.startAnnouncer(ctx)
	t.startDHT(ctx)
	t.startPex(ctx)
	t.checkDone()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	evicted := evictedChan(t.cfg.Storage)
	chokeEvery := int(choke.RoundInterval / tick)
	for ticks := 0; ; {
		select {
		case <-ctx.Done():
			return nil
		case m := <-t.peerMsgs:
			t.handlePeerMsg(m)
		case c := <-t.conns:
			t.addConn(ctx, c)
		case r := <-t.dialEnd:
			t.dialDone(r)
		case r := <-t.verified:
			t.handleVerified(r)
		case i := <-t.landed:
			t.wakeLanded(i)
		case b := <-t.addPeers:
			t.addCandidates(b.addrs, b.src)
			t.turnover(time.Now())
			t.dialMore(ctx)
		case f := <-t.queries:
			f()
		case <-evicted:
			t.forgetEvicted()
		case now := <-ticker.C:
			ticks++
			t.onTick(ctx, now)
			if ticks%chokeEvery == 0 {
				t.chokeRound()
			}
		}
	}
}

// drainUntilIdle keeps answering goroutines that are reporting to the loop
// until all of them have exited, so none blocks on a send forever.
func (t *Torrent) drainUntilIdle() {
	idle := make(chan struct{})
	go func() { t.wg.Wait(); close(idle) }()
	for {
		select {
		case <-idle:
			return
		case m := <-t.peerMsgs:
			if m.block != nil {
				t.blocks.put(m.block)
			}
		case c := <-t.conns:
			c.close()
		case <-t.dialEnd:
		case r := <-t.verified:
			t.discard(r)
		case <-t.landed:
		case <-t.addPeers:
		case f := <-t.queries:
			f()
		}
	}
}

func (t *Torrent) checkDone() {
	if !t.doneClosed && t.cfg.WantAll && t.picker.Complete() {
		t.doneClosed = true
		close(t.done)
		if t.downloaded.Load() > 0 {
			t.log.Info("download complete")
			if t.announcer != nil {
				t.announcer.Completed()
			}
		}
	}
}

// updateLeft recomputes the bytes still to download, for announces.
func (t *Torrent) updateLeft() {
	var left int64
	for i := range t.info.NumPieces() {
		if !t.picker.Have(i) {
			left += t.info.PieceSize(i)
		}
	}
	t.left.Store(left)
}
