package dht

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	anacrolix "github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/krpc"
	"golang.org/x/time/rate"
)

// DefaultListen is the UDP address a Node listens on when Config.Listen is
// empty: BitTorrent's customary port, on every IPv4 address.
const DefaultListen = ":6881"

// DefaultBootstrap are the public routers through which a node with an empty
// routing table joins the mainline DHT. Open never uses them by itself: the
// caller passes them in Config.Bootstrap (cmd/btfs does, unless told
// otherwise), so that a zero Config, and every test, sends nothing beyond
// the nodes it names.
var DefaultBootstrap = []string{
	"router.bittorrent.com:6881",
	"dht.transmissionbt.com:6881",
	"router.utorrent.com:6881",
}

// Defaults of Config's zero fields, and other timings.
const (
	// DefaultAnnounceInterval is the time between rounds of Announce:
	// libtorrent's, and half the time stored peers live (peerTTL).
	DefaultAnnounceInterval = 15 * time.Minute
	// DefaultQueryTimeout is how long a query waits for its answer, the
	// library's: the slowest reasonable round trip over UDP.
	DefaultQueryTimeout = 2 * time.Second
	// DefaultSendRate is the most datagrams a Node sends per second (the
	// library's default; libtorrent's is similar): a lookup sends about
	// 20 to 50, so it is a burst, and a busy node's replies are bounded.
	DefaultSendRate = 25
	// defaultRetryDelay is the first wait after a lookup that reached no
	// node; it doubles up to the announce interval.
	defaultRetryDelay = 10 * time.Second
	// rejoinCheck is how often the node checks that it still has good
	// nodes, and joins through the bootstrap nodes again if not.
	rejoinCheck = time.Minute
	// saveInterval is how often the routing table is saved while running
	// (it is saved on Close too), so that a crash loses little.
	saveInterval = 10 * time.Minute
	// resolveTimeout bounds resolving the bootstrap host names.
	resolveTimeout = 10 * time.Second
	// goodEnough is how many good nodes make a routing table usable
	// without asking the bootstrap nodes: one bucket's worth.
	goodEnough = 8
)

// ErrClosed is returned by a Node's methods after Close.
var ErrClosed = errors.New("dht: node closed")

// Config configures a Node. The zero Config listens on DefaultListen, knows
// no other node, and keeps no state.
type Config struct {
	// Listen is the UDP address to listen on ("127.0.0.1:0", ":6881"); an
	// IPv6 address makes an IPv6 node (BEP 32). Empty: DefaultListen.
	Listen string
	// Bootstrap lists host:port of nodes to join through when the routing
	// table has no good node: DefaultBootstrap for the real DHT, nodes on
	// loopback in tests. Empty: none, the node joins only through its state
	// file or through nodes that contact it.
	Bootstrap []string
	// StateFile, if set, is where the node ID and routing table are saved
	// (every few minutes and on Close) and loaded from on Open.
	StateFile string
	// Logger receives the DHT's messages; nil discards them.
	Logger *slog.Logger
	// AnnounceInterval is the time between rounds of Announce; zero means
	// DefaultAnnounceInterval.
	AnnounceInterval time.Duration
	// QueryTimeout is how long a query waits for its answer; zero means
	// DefaultQueryTimeout. Close waits up to about this long for queries in
	// flight.
	QueryTimeout time.Duration
	// SendRate is the most datagrams sent per second; zero means
	// DefaultSendRate.
	SendRate int

	// For tests: allowDest refuses writes to other addresses (nil: any);
	// retryDelay replaces defaultRetryDelay; now is the peer store's clock.
	allowDest  func(netip.Addr) bool
	retryDelay time.Duration
	now        func() time.Time
}

// Node is one DHT node: a UDP socket, a routing table kept up by itself,
// and a store of the peers others announce to it. Its methods are safe for
// concurrent use.
type Node struct {
	cfg   Config
	log   *slog.Logger
	srv   *anacrolix.Server
	conn  *guardConn
	peers *peerStore

	ctx          context.Context // ends at Close
	cancel       context.CancelFunc
	bootstrapped chan struct{} // closed after the first join

	// mu guards closed, maintaining, routers and the Add of wg (none after
	// closed).
	mu          sync.Mutex
	closed      bool
	maintaining bool // the library's table maintainer runs
	routers     []anacrolix.Addr
	wg          sync.WaitGroup // maintain, the library's table maintainer, lookups

	closeOnce sync.Once
}

// Open starts a node: it loads the state file, listens, and starts joining
// the DHT in the background (lookups wait for the first join). ctx bounds
// Open only; Close stops the node.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	cfg.AnnounceInterval = orDefault(cfg.AnnounceInterval, DefaultAnnounceInterval)
	cfg.QueryTimeout = orDefault(cfg.QueryTimeout, DefaultQueryTimeout)
	cfg.SendRate = orDefault(cfg.SendRate, DefaultSendRate)
	cfg.retryDelay = orDefault(cfg.retryDelay, defaultRetryDelay)
	if cfg.now == nil {
		cfg.now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, hp := range cfg.Bootstrap {
		if _, _, err := net.SplitHostPort(hp); err != nil {
			return nil, fmt.Errorf("dht: bootstrap node %q: %w (want host:port)", hp, err)
		}
	}
	st, err := loadState(cfg.StateFile)
	if err != nil {
		// A damaged file costs only a fresh join: say so, and go on.
		log.Warn("dht: ignoring the state file", "file", cfg.StateFile, "err", err)
		st = state{}
	}
	if st.ID == (krpc.ID{}) {
		rand.Read(st.ID[:])
	}
	network, want := listenNetwork(cfg.Listen)
	pc, err := (&net.ListenConfig{}).ListenPacket(ctx, network, cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("dht: listen: %w", err)
	}
	n := &Node{cfg: cfg, log: log, peers: newPeerStore(cfg.now), bootstrapped: make(chan struct{})}
	n.conn = newGuardConn(pc, log, cfg.allowDest)
	n.srv, err = anacrolix.NewServer(&anacrolix.ServerConfig{
		NodeId: st.ID,
		Conn:   n.conn,
		// BEP 42 node IDs need our public IP, which we do not know; the
		// library's own default is the same.
		NoSecurity:       true,
		OnQuery:          fixFindNode,
		StartingNodes:    n.startingNodes,
		PeerStore:        n.peers,
		Logger:           libraryLogger(log),
		QueryResendDelay: func() time.Duration { return cfg.QueryTimeout },
		DefaultWant:      want,
		// The library's default limiter is one for the whole process.
		SendLimiter: rate.NewLimiter(rate.Limit(cfg.SendRate), cfg.SendRate),
	})
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("dht: %w", err)
	}
	for _, ni := range st.Nodes {
		n.srv.AddNode(ni) // with an ID: straight into the table, no ping
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.wg.Add(1)
	go n.maintain()
	return n, nil
}

// fixFindNode works around the library answering find_node with the nodes
// closest to the query's info_hash, which find_node does not have, instead of
// its target (v2.23.0, Server.setReturnNodes): it copies the target over.
func fixFindNode(m *krpc.Msg, _ net.Addr) bool {
	if m.Q == "find_node" && m.A != nil {
		m.A.InfoHash = m.A.Target
	}
	return true
}

// listenNetwork returns the network to listen on for addr, and the node
// families (BEP 32 "want") to ask for: an IPv6 node wants IPv6 nodes.
func listenNetwork(addr string) (string, []krpc.Want) {
	host, _, _ := net.SplitHostPort(addr)
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() && !ip.Is4In6() {
		return "udp6", []krpc.Want{krpc.WantNodes6}
	}
	return "udp4", []krpc.Want{krpc.WantNodes}
}

// Addr returns the address the node listens on.
func (n *Node) Addr() netip.AddrPort {
	ua, _ := n.conn.LocalAddr().(*net.UDPAddr)
	if ua == nil {
		return netip.AddrPort{}
	}
	return ua.AddrPort()
}

// ID returns the node ID.
func (n *Node) ID() [20]byte { return n.srv.ID() }

// Stats is a snapshot of a Node.
type Stats struct {
	Nodes     int // in the routing table
	GoodNodes int // of those, the ones that answered lately
	// OutstandingQueries are queries waiting for an answer.
	OutstandingQueries int
	// Torrents and Peers are what other nodes announced to this one.
	Torrents, Peers int
	// Dropped counts datagrams refused as malformed (see checkKRPC).
	Dropped int64
}

// Stats returns the node's current numbers.
func (n *Node) Stats() Stats {
	ss := n.srv.Stats()
	s := Stats{Nodes: ss.Nodes, GoodNodes: ss.GoodNodes, OutstandingQueries: ss.OutstandingTransactions,
		Dropped: n.conn.dropped.Load()}
	s.Torrents, s.Peers = n.peers.counts()
	return s
}

// Close stops the node and every goroutine it started, waits for queries in
// flight (up to about QueryTimeout), and saves the state file. Lookups and
// Announce calls return ErrClosed.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		n.mu.Unlock()
		n.cancel()
		n.conn.shutdown()
		<-n.conn.parked
		n.srv.Close()
		n.conn.release()
		n.wg.Wait()
		n.save()
	})
	return nil
}

// track registers a goroutine or call that Close must wait for; it fails
// once the node is closed.
func (n *Node) track() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.wg.Add(1)
	return true
}

// save writes the state file, if there is one and the table has nodes (an
// empty table, say after a run without network, keeps the old file).
func (n *Node) save() {
	if n.cfg.StateFile == "" {
		return
	}
	nodes := n.srv.Nodes()
	if len(nodes) == 0 {
		return
	}
	if err := saveState(n.cfg.StateFile, state{ID: n.srv.ID(), Nodes: nodes}); err != nil {
		n.log.Warn("dht: cannot save the routing table", "file", n.cfg.StateFile, "err", err)
	}
}

// orDefault returns v, or def if v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
