package tracker

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/btfs/btfs/metainfo"
)

// AnnounceClient is what an Announcer needs to reach a tracker; *Client is
// one, and tests use fakes.
type AnnounceClient interface {
	Announce(ctx context.Context, trackerURL string, req AnnounceRequest) (AnnounceResponse, error)
}

// Progress is a torrent's transfer state, read before every announce.
type Progress struct {
	Uploaded, Downloaded, Left int64
}

// AnnouncerOptions configure an Announcer. Zero durations take the defaults
// named.
type AnnouncerOptions struct {
	// Trackers are the announce-list tiers (BEP 12); a torrent with only an
	// "announce" URL has one tier of one.
	Trackers [][]string
	InfoHash metainfo.Hash
	PeerID   [20]byte
	Port     uint16
	Key      uint32
	NumWant  int // 0: the tracker's default
	// Progress supplies live numbers for each announce. Required.
	Progress func() Progress
	// OnPeers receives the peers of each successful announce, on Run's
	// goroutine: it should hand them off, not dial them.
	OnPeers func([]Peer)
	// Client reaches the trackers (a NewClient with Logger).
	Client AnnounceClient
	// DefaultInterval applies when a tracker names none (30 min). MinWait
	// is the least time between regular announces whatever a tracker says
	// (1 min), so a tracker answering "interval 0" is not hammered.
	DefaultInterval time.Duration
	MinWait         time.Duration
	// After a round in which every tracker failed, the next round waits
	// RetryMin (15 s), doubling with each further failure up to RetryMax
	// (30 min).
	RetryMin, RetryMax time.Duration
	// TrackerTimeout bounds one tracker's try, so a dead one does not hold
	// up the rest of the list (30 s). StopTimeout bounds the stopped
	// announce sent when Run ends (5 s).
	TrackerTimeout time.Duration
	StopTimeout    time.Duration
	// Shuffle orders each tier once, as BEP 12 asks (rand.Shuffle); tests
	// pass a no-op to pin the order.
	Shuffle func(n int, swap func(i, j int))
	Logger  *slog.Logger
}

// AnnouncerStatus is what an Announcer last saw, for display.
type AnnouncerStatus struct {
	Tracker      string    // the tracker that answered last
	LastAnnounce time.Time // of the last success
	NextAnnounce time.Time
	Interval     time.Duration
	Seeders      int
	Leechers     int
	Peers        int    // in the last reply
	Warning      string // the last reply's warning message
	Err          error  // why the last round failed; nil after a success
	Failures     int    // rounds failed in a row
	// Rounds since Run started: answered by a tracker, and failed by all.
	Announced, Failed int
}

// Announcer keeps one torrent announced to its trackers. Run does the work
// on a goroutine the caller owns; Completed, NeedPeers and Status may be
// called from any goroutine.
type Announcer struct {
	opts      AnnouncerOptions
	completed chan struct{} // capacity 1: a pending signal is enough
	needPeers chan struct{} // capacity 1

	// Owned by Run.
	tiers      tiers
	trackerIDs map[string]string // "tracker id" by URL

	mu     sync.Mutex
	status AnnouncerStatus // guarded by mu
}

// NewAnnouncer checks opts and returns an Announcer; call Run to start it.
func NewAnnouncer(opts AnnouncerOptions) (*Announcer, error) {
	if opts.Progress == nil {
		return nil, errors.New("tracker: AnnouncerOptions.Progress is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.DefaultInterval, 30*time.Minute)
	def(&opts.MinWait, time.Minute)
	def(&opts.RetryMin, 15*time.Second)
	def(&opts.RetryMax, 30*time.Minute)
	def(&opts.TrackerTimeout, 30*time.Second)
	def(&opts.StopTimeout, 5*time.Second)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Client == nil {
		opts.Client = NewClient(ClientOptions{Logger: opts.Logger})
	}
	if opts.Shuffle == nil {
		opts.Shuffle = rand.Shuffle
	}
	if opts.OnPeers == nil {
		opts.OnPeers = func([]Peer) {}
	}
	t := newTiers(opts.Trackers, opts.Shuffle)
	if len(t) == 0 {
		return nil, errors.New("tracker: no tracker URLs")
	}
	return &Announcer{
		opts:       opts,
		completed:  make(chan struct{}, 1),
		needPeers:  make(chan struct{}, 1),
		tiers:      t,
		trackerIDs: make(map[string]string),
	}, nil
}

// Completed says the download finished: the next announce, sent at once,
// carries the completed event.
func (a *Announcer) Completed() { signal(a.completed) }

// NeedPeers asks for an announce as soon as the tracker's min interval
// allows, for a swarm running short of peers.
func (a *Announcer) NeedPeers() { signal(a.needPeers) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Status returns what the Announcer last saw.
func (a *Announcer) Status() AnnouncerStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}
