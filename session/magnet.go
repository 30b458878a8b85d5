package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/btfs/btfs/dht"
	"github.com/btfs/btfs/fetch/metadata"
	"github.com/btfs/btfs/magnet"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/tracker"
	"github.com/btfs/btfs/wire"
)

// Magnet links: a torrent may be added by one where a .torrent file
// would do. The link names the info-hash, and perhaps trackers (tr) and peers
// (x.pe); the info dictionary comes from those peers, and from the peers the
// trackers and the DHT name, by BEP 9 (fetch/metadata). With --no-dht, a
// link with neither trackers nor peers cannot be followed.
//
// Rules the fetch follows:
//
//   - Rounds: each announces to every tracker of the link at once (each
//     tier's URLs too: finding a first peer soon matters more than BEP 12's
//     order here), looks the info-hash up on the DHT (without announcing:
//     we have nothing to serve yet; the engine announces once it runs), and
//     offers metadata.Fetch the link's peers (host names looked up) and
//     every peer the trackers and the DHT name, as they come.
//   - A round that ends with no metadata (no peer yet, or none that had
//     it) is followed by another after a pause that doubles from
//     retryFirst to retryMax: a seeder that starts later is found. Only the
//     context ends the fetch (--metadata-timeout, Ctrl-C), or a metadata
//     that matches the info-hash but is no valid torrent.
//   - Announces say left=unknownLeft (16 KiB) while the size is unknown:
//     libtorrent's choice. Left=0 would tell the tracker we are a seeder,
//     and some trackers hand seeders no seeders.
//   - The peers seen are handed to the engine when it starts, so that a
//     link's x.pe peers serve the data too, with no tracker at all.

// unknownLeft is the "left" announced before the metadata gives the size.
const unknownLeft = 16 << 10

// Pauses between rounds, and the bound on one tracker's announce.
const (
	retryFirst      = 2 * time.Second
	retryMax        = time.Minute
	announceTimeout = 15 * time.Second
	// maxLearned bounds the peers remembered for the engine: more than its
	// connections (--max-peers) many times over, and a bound on learn's
	// linear look for a duplicate.
	maxLearned = 500
	// stoppedTimeout bounds stop's goodbye announces: a courtesy, which must
	// not hold up the command's exit when a tracker does not answer.
	stoppedTimeout = 5 * time.Second
)

// LoadTorrentArg reads a torrent argument: a .torrent file, or a
// magnet link (parsed; its metadata is fetched later).
func LoadTorrentArg(arg string) (*metainfo.MetaInfo, *magnet.Link, error) {
	if !IsMagnet(arg) {
		mi, err := metainfo.Load(arg)
		return mi, nil, err
	}
	link, err := magnet.Parse(arg)
	if err != nil {
		return nil, nil, err
	}
	return nil, &link, nil
}

// IsMagnet reports whether a command's argument is a magnet link rather
// than a .torrent file.
func IsMagnet(arg string) bool {
	return len(arg) >= len("magnet:") && strings.EqualFold(arg[:len("magnet:")], "magnet:")
}

// MagnetFetch finds a magnet link's info dictionary.
type MagnetFetch struct {
	link   magnet.Link
	peerID wire.PeerID
	port   int // announced, and advertised to peers
	log    *slog.Logger
	client *tracker.Client
	dht    *dht.Node // nil: no DHT
	// dial connects to peers over the transports and encryption of the
	// flags (nil: plain TCP).
	dial Dialer

	mu       sync.Mutex // guards learned, answered
	learned  []netip.AddrPort
	answered map[string]bool // trackers that answered an announce
}

// Dialer opens a connection to a peer of the torrent infoHash (MSE uses it
// as the secret), returning the stream the BitTorrent handshake goes on.
type Dialer = func(ctx context.Context, addr netip.AddrPort, infoHash metainfo.Hash) (net.Conn, error)

// NewMagnetFetch prepares the fetch of link's metadata; node is the
// process's DHT node, nil with --no-dht; dial opens peer connections (nil:
// plain TCP).
func NewMagnetFetch(link magnet.Link, peerID wire.PeerID, port int, node *dht.Node, dial Dialer, log *slog.Logger) (*MagnetFetch, error) {
	for _, w := range link.Warnings {
		log.Warn("magnet link: " + w)
	}
	if len(link.Trackers) == 0 && len(link.Peers) == 0 && node == nil {
		return nil, fmt.Errorf("magnet link %s names no trackers (tr=) and no usable peers (x.pe=), and the DHT is off (--no-dht): "+
			"nothing can find its peers; drop --no-dht, add a tracker or a peer, or use the .torrent file", link.InfoHash)
	}
	return &MagnetFetch{link: link, peerID: peerID, port: port, log: log.With("info_hash", link.InfoHash.String()),
		client: tracker.NewClient(tracker.ClientOptions{Logger: log}), answered: map[string]bool{}, dht: node, dial: dial}, nil
}

// Fetch returns the torrent of the link: its info from peers, with the
// link's trackers and web seeds. With timeout > 0 it gives up after that.
func (m *MagnetFetch) Fetch(ctx context.Context, timeout time.Duration) (*metainfo.MetaInfo, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	m.log.Info("fetching the metadata", "name", m.link.Name, "trackers", len(slices.Concat(m.link.Trackers...)),
		"peers", len(m.link.Peers), "dht", m.dht != nil)
	start := time.Now()
	pause := retryFirst
	for round := 0; ; round++ {
		mi, err := m.round(ctx, round == 0)
		if err == nil {
			m.log.Info("metadata fetched", "name", mi.Info.Name, "took", time.Since(start).Round(time.Millisecond))
			return m.link.MetaInfo(mi.InfoBytes)
		}
		if errors.Is(err, metainfo.ErrInvalid) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, m.gaveUp(ctx, timeout, err)
		}
		m.log.Info("no peer gave the metadata yet; asking again", "in", pause, "err", err)
		select {
		case <-ctx.Done():
			return nil, m.gaveUp(ctx, timeout, err)
		case <-time.After(pause):
		}
		pause = min(2*pause, retryMax)
	}
}

// gaveUp is the error of a fetch whose context ended; last is how the last
// round went.
func (m *MagnetFetch) gaveUp(ctx context.Context, timeout time.Duration, last error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && timeout > 0 {
		return fmt.Errorf("no metadata for %s within %v (--metadata-timeout); last try: %w", m.link.InfoHash, timeout, last)
	}
	return fmt.Errorf("fetching the metadata of %s: %w", m.link.InfoHash, ctx.Err())
}

// round announces to the trackers and tries every peer once.
func (m *MagnetFetch) round(ctx context.Context, first bool) (*metainfo.MetaInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	peers := make(chan netip.AddrPort)
	offer := func(a netip.AddrPort) bool {
		m.learn(a)
		select {
		case peers <- a:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, p := range m.link.Peers {
			for _, a := range m.resolve(ctx, p) {
				if !offer(a) {
					return
				}
			}
		}
	})
	event := tracker.EventNone
	if first {
		event = tracker.EventStarted
	}
	for _, url := range slices.Concat(m.link.Trackers...) {
		wg.Go(func() {
			for _, p := range m.announce(ctx, url, event) {
				if !offer(p.Addr) {
					return
				}
			}
		})
	}
	if m.dht != nil {
		wg.Go(func() {
			st, err := m.dht.Lookup(ctx, m.link.InfoHash, 0, func(ps []netip.AddrPort) {
				for _, a := range ps {
					if !offer(a) {
						return
					}
				}
			})
			m.log.Debug("dht lookup", "queried", st.Queried, "responded", st.Responded, "peers", st.Peers, "err", err)
		})
	}
	fed := make(chan struct{})
	go func() { wg.Wait(); close(peers); close(fed) }()
	defer func() { cancel(); <-fed }()
	opts := metadata.Options{PeerID: m.peerID, ListenPort: m.port, Log: m.log}
	if m.dial != nil {
		opts.Dial = func(ctx context.Context, a netip.AddrPort) (net.Conn, error) { return m.dial(ctx, a, m.link.InfoHash) }
	}
	return metadata.Fetch(ctx, m.link.InfoHash, peers, opts)
}

// announce asks one tracker for peers; failures are logged and give none.
func (m *MagnetFetch) announce(ctx context.Context, url string, event tracker.Event) []tracker.Peer {
	actx, cancel := context.WithTimeout(ctx, announceTimeout)
	defer cancel()
	resp, err := m.client.Announce(actx, url, tracker.AnnounceRequest{
		InfoHash: m.link.InfoHash, PeerID: m.peerID, Port: uint16(m.port), Left: unknownLeft, Event: event,
	})
	if err != nil {
		if ctx.Err() == nil {
			m.log.Info("announce failed", "tracker", url, "err", err)
		}
		return nil
	}
	m.mu.Lock()
	m.answered[url] = true
	m.mu.Unlock()
	m.log.Debug("announced", "tracker", url, "peers", len(resp.Peers), "seeders", resp.Seeders)
	return resp.Peers
}

// resolve turns an x.pe peer into addresses: an IP address as it is, a
// host name looked up.
func (m *MagnetFetch) resolve(ctx context.Context, peer string) []netip.AddrPort {
	if a, err := netip.ParseAddrPort(peer); err == nil {
		return []netip.AddrPort{a}
	}
	host, port, err := net.SplitHostPort(peer)
	if err != nil {
		return nil
	}
	pn, err := net.LookupPort("tcp", port)
	if err != nil {
		return nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		m.log.Info("x.pe peer not found", "peer", peer, "err", err)
		return nil
	}
	var out []netip.AddrPort
	for _, ip := range ips {
		out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(pn)))
	}
	return out
}

func (m *MagnetFetch) learn(a netip.AddrPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.learned) < maxLearned && !slices.Contains(m.learned, a) {
		m.learned = append(m.learned, a)
	}
}

// peers returns the addresses seen so far, for the engine.
func (m *MagnetFetch) peers() []netip.AddrPort {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.learned)
}

// Stop tells the trackers that answered that we are gone: for a command
// that ends with the metadata (info), whose session no engine continues.
func (m *MagnetFetch) Stop() {
	m.mu.Lock()
	urls := make([]string, 0, len(m.answered))
	for u := range m.answered {
		urls = append(urls, u)
	}
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), stoppedTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, u := range urls {
		wg.Go(func() {
			m.client.Announce(ctx, u, tracker.AnnounceRequest{InfoHash: m.link.InfoHash, PeerID: m.peerID,
				Port: uint16(m.port), Left: unknownLeft, Event: tracker.EventStopped})
		})
	}
	wg.Wait()
}

// Peers returns the peers the link names and those the metadata fetch
// met, so that they serve the data too.
func (m *MagnetFetch) Peers(ctx context.Context) []netip.AddrPort {
	peers := m.peers()
	if len(peers) == 0 { // the metadata came from the cache: no fetch ran
		for _, p := range m.link.Peers {
			peers = append(peers, m.resolve(ctx, p)...)
		}
	}
	return peers
}
