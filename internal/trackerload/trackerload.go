// Package trackerload drives announce load at a BitTorrent tracker, the same
// for any tracker, so that scripts/bench-tracker.sh can compare `btfs
// tracker` with opentracker on equal terms.
//
// The swarm is fixed by the Config: Torrents torrents of PeersPerTorrent
// peers each, every peer with its own identity that stays the same for the
// whole run, so that a tracker's state settles at Torrents×PeersPerTorrent
// peers and the measured announces are the steady state of a tracker: a
// known peer re-announcing. A populate pass, not measured, announces every
// peer once with event=started first.
//
// Trackers tell peers apart by address (IP and the port parameter): Debian's
// opentracker takes only the source IP, so identities are made of source
// addresses, all in 127.0.0.0/8, which Linux routes to the loopback device
// whatever the host part:
//
//   - http (keep-alive) and udp: worker w sends from 127.1.w.w (one socket
//     or connection), and its peers differ by the port parameter;
//   - http-close: every peer connects from an address of its own, so the
//     4-tuples of the many short connections spread over many addresses and
//     TIME_WAIT never runs out of ephemeral ports.
//
// Each worker has one request in flight (a closed loop): throughput is what
// the tracker sustains at that concurrency, and the latencies are what a
// client waits at that load.
package trackerload

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Mode is how announces travel.
type Mode string

// The modes.
const (
	HTTP      Mode = "http"       // HTTP/1.1, one keep-alive connection per worker
	HTTPClose Mode = "http-close" // HTTP, a new connection for every announce
	UDP       Mode = "udp"        // BEP 15, one socket per worker
)

// Config is one run.
type Config struct {
	Addr            string // the tracker's host:port; HTTP announces go to /announce
	Mode            Mode
	Concurrency     int           // workers, each with one request in flight
	Duration        time.Duration // of the measured phase
	Torrents        int
	PeersPerTorrent int
	Timeout         time.Duration // one request's deadline (2 s)
}

// Result is what one phase measured.
type Result struct {
	Mode       Mode
	Announces  uint64 // answered with a peer list
	Errors     uint64 // refused, malformed, or the connection failed
	Timeouts   uint64 // no answer within Config.Timeout
	Reconnects uint64 // HTTP keep-alive connections the server closed
	Elapsed    time.Duration
	P50, P99   time.Duration
	Max        time.Duration
	FirstError string // one error, to say what went wrong
}

// PerSecond is the answered announces per second.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Announces) / r.Elapsed.Seconds()
}

func (c *Config) check() error {
	switch c.Mode {
	case HTTP, HTTPClose, UDP:
	default:
		return fmt.Errorf("trackerload: unknown mode %q (http, http-close, udp)", c.Mode)
	}
	if c.Concurrency < 1 || c.Concurrency > maxWorkers {
		return fmt.Errorf("trackerload: concurrency must be 1-%d", maxWorkers)
	}
	if c.Torrents < 1 || c.PeersPerTorrent < 1 {
		return errors.New("trackerload: need at least one torrent and one peer")
	}
	n := c.Torrents * c.PeersPerTorrent
	if n > maxPeers {
		return fmt.Errorf("trackerload: %d peers; at most %d", n, maxPeers)
	}
	if c.Mode != HTTPClose && (n+c.Concurrency-1)/c.Concurrency > maxPortsPerLane {
		return fmt.Errorf("trackerload: %d peers over %d workers leave more than %d per source address; raise the concurrency", n, c.Concurrency, maxPortsPerLane)
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	return nil
}

// Limits of the address plan (see the package comment).
const (
	maxWorkers      = 250 // 127.1.w.w
	maxPortsPerLane = 65535 - 1024
	maxPeers        = 200 * 250 * 250 // 127.2-201.x.y
	firstLanePort   = 1024
	perPeerPort     = 6881
)

// InfoHash is torrent t's info-hash: the SHA-1 of "trackerload t", so that
// a whitelist can be written before a run.
func InfoHash(t int) [20]byte {
	return sha1.Sum([]byte("trackerload " + strconv.Itoa(t)))
}

// peer is one member of the swarm, as it announces.
type peer struct {
	infoHash [20]byte
	id       [20]byte
	src      netip.Addr // source address; for the shared modes, the worker's
	port     uint16
	left     int64
}

// peerAt lays out peer i: torrent i%Torrents, and within it rank
// i/Torrents; the ranks divisible by 3 are seeders (4 of 10 peers), the
// rest leechers, so that replies carry both.
func (c *Config) peerAt(i int) peer {
	t, rank := i%c.Torrents, i/c.Torrents
	p := peer{infoHash: InfoHash(t)}
	copy(p.id[:], fmt.Sprintf("-TL0001-%012d", i))
	if rank%3 != 0 {
		p.left = 1 << 30
	}
	if c.Mode == HTTPClose {
		p.src = netip.AddrFrom4([4]byte{127, byte(2 + i/62500), byte(i / 250 % 250), byte(1 + i%250)})
		p.port = perPeerPort
	} else {
		w := i % c.Concurrency
		p.src = laneAddr(w)
		p.port = uint16(firstLanePort + i/c.Concurrency)
	}
	return p
}

func laneAddr(w int) netip.Addr { return netip.AddrFrom4([4]byte{127, 1, byte(w + 1), byte(w + 1)}) }

// announcer sends one announce and waits for its answer.
type announcer interface {
	announce(p *peer, event uint32) error
	close()
}

// Announce events, as BEP 15 numbers them.
const (
	eventNone    = 0
	eventStarted = 2
)

// Populate announces every peer once with event=started, so that Run
// measures a tracker that knows the whole swarm.
func Populate(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	return run(ctx, &cfg, true)
}

// Run announces for cfg.Duration and returns what it measured.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	return run(ctx, &cfg, false)
}

// WaitReady announces the swarm's first peer until the tracker accepts it
// or wait has passed: a tracker may listen before it serves (opentracker
// reads its whitelist in a thread of its own).
func WaitReady(ctx context.Context, cfg Config, wait time.Duration) error {
	if err := cfg.check(); err != nil {
		return err
	}
	var a announcer
	switch cfg.Mode {
	case HTTP, HTTPClose:
		var reconnects uint64
		a = newHTTPAnnouncer(&cfg, laneAddr(0), &reconnects)
	case UDP:
		a = newUDPAnnouncer(&cfg, laneAddr(0))
	}
	defer a.close()
	p := cfg.peerAt(0)
	deadline := time.Now().Add(wait)
	for {
		err := a.announce(&p, eventStarted)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("trackerload: %s at %s not answering: %w", cfg.Mode, cfg.Addr, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type worker struct {
	lat   []time.Duration
	res   Result
	peers []peer // laid out once: the generator's own work per request stays small
}

func run(ctx context.Context, cfg *Config, populate bool) (Result, error) {
	n := cfg.Torrents * cfg.PeersPerTorrent
	workers := make([]*worker, cfg.Concurrency)
	for w := range workers {
		wk := &worker{}
		for i := w; i < n; i += cfg.Concurrency {
			wk.peers = append(wk.peers, cfg.peerAt(i))
		}
		// A fixed shuffle per worker: announces of one torrent do not
		// arrive together, as they would not from real peers.
		r := rand.New(rand.NewPCG(uint64(w), 1))
		r.Shuffle(len(wk.peers), func(a, b int) { wk.peers[a], wk.peers[b] = wk.peers[b], wk.peers[a] })
		workers[w] = wk
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var deadline time.Time
	if !populate {
		deadline = time.Now().Add(cfg.Duration)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w, wk := range workers {
		wg.Go(func() { wk.run(ctx, cfg, w, populate, deadline) })
	}
	wg.Wait()
	total := Result{Mode: cfg.Mode, Elapsed: time.Since(start)}
	var lat []time.Duration
	for _, wk := range workers {
		total.Announces += wk.res.Announces
		total.Errors += wk.res.Errors
		total.Timeouts += wk.res.Timeouts
		total.Reconnects += wk.res.Reconnects
		if total.FirstError == "" {
			total.FirstError = wk.res.FirstError
		}
		lat = append(lat, wk.lat...)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		total.P50 = lat[len(lat)*50/100]
		total.P99 = lat[len(lat)*99/100]
		total.Max = lat[len(lat)-1]
	}
	return total, ctx.Err()
}

func (wk *worker) run(ctx context.Context, cfg *Config, w int, populate bool, deadline time.Time) {
	var a announcer
	switch cfg.Mode {
	case HTTP, HTTPClose:
		a = newHTTPAnnouncer(cfg, laneAddr(w), &wk.res.Reconnects)
	case UDP:
		a = newUDPAnnouncer(cfg, laneAddr(w))
	}
	defer a.close()
	event := uint32(eventNone)
	if populate {
		event = eventStarted
	}
	wk.lat = make([]time.Duration, 0, 1<<16)
	for k := 0; ctx.Err() == nil; k++ {
		if k == len(wk.peers) {
			if populate {
				return
			}
			k = 0
		}
		t0 := time.Now()
		err := a.announce(&wk.peers[k], event)
		t1 := time.Now()
		switch {
		case err == nil:
			wk.res.Announces++
			wk.lat = append(wk.lat, t1.Sub(t0))
		case errors.Is(err, errTimeout):
			wk.res.Timeouts++
		default:
			wk.res.Errors++
			if wk.res.FirstError == "" {
				wk.res.FirstError = err.Error()
			}
		}
		if !populate && !t1.Before(deadline) {
			return
		}
	}
}

var errTimeout = errors.New("trackerload: timed out")
