// Package testswarm runs a whole BitTorrent swarm inside a test, on loopback:
// a tracker (tracker.Server behind httptest) and any number of seeders and
// leechers, each a fetch.Torrent with its own files (filestore) and its own
// fetch.Listener. Nodes are never told about each other: they announce to the
// tracker and find each other only through its answers (and PEX), as real
// peers do. They use no DHT (fetch.Config.DHT is nil).
//
// Everything a swarm starts is stopped when the test ends (nodes first, so
// their "stopped" announces still reach the tracker).
package testswarm

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/filestore"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/tracker"
	"github.com/btfs/btfs/wire"
)

// Options describe a swarm's torrent and timing. Zero fields take the
// defaults named.
type Options struct {
	// Files maps slash-separated paths under the torrent's root to sizes.
	// The content is random (from Seed). Default: "content.bin", 4 MiB; a
	// single entry makes a single-file torrent, more make a directory.
	Files map[string]int64
	// Name is the torrent's name ("content").
	Name string
	// PieceLength: 0 lets metainfo choose (metainfo.AutoPieceLength).
	PieceLength int64
	// Seed makes the content reproducible (1).
	Seed uint64
	// AnnounceEvery is the tracker's interval and the nodes' least wait
	// between announces: how soon a node hears of peers that joined after
	// it (1 s, the least the tracker protocols can say).
	AnnounceEvery time.Duration
	// Logger receives every node's log (nil: discarded).
	Logger *slog.Logger
	// Config, if set, adjusts each node's configuration before it starts.
	Config func(*fetch.Config)
}

// Swarm is a tracker and the nodes started on it.
type Swarm struct {
	tb   testing.TB
	opts Options

	// MetaInfo is the torrent every node shares.
	MetaInfo *metainfo.MetaInfo
	// Src is the data directory of the original content: the torrent's
	// files laid out under it as filestore expects. Seeders serve it.
	Src string
	// TrackerURL is the announce URL of the tracker.
	TrackerURL string
	// Tracker is the tracker itself.
	Tracker *tracker.Server

	srcSums []metainfo.Hash // SHA-1 of each file of the torrent, by index
}

// New writes random content, makes its torrent and starts a tracker on
// loopback, all torn down when the test ends.
func New(tb testing.TB, opts Options) *Swarm {
	tb.Helper()
	if len(opts.Files) == 0 {
		opts.Files = map[string]int64{"content.bin": 4 << 20}
	}
	if opts.Name == "" {
		opts.Name = "content"
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.AnnounceEvery <= 0 {
		opts.AnnounceEvery = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Swarm{tb: tb, opts: opts, Src: tb.TempDir()}

	srv, err := tracker.NewServer(tracker.ServerOptions{
		Interval: opts.AnnounceEvery, MinInterval: opts.AnnounceEvery, Logger: opts.Logger,
	})
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(srv) // 127.0.0.1, a free port
	tb.Cleanup(hs.Close)
	s.Tracker, s.TrackerURL = srv, hs.URL+"/announce"

	root, err := writeContent(s.Src, opts)
	if err != nil {
		tb.Fatal(err)
	}
	mi, err := metainfo.Create(context.Background(), root, metainfo.CreateOptions{
		PieceLength: opts.PieceLength, Trackers: [][]string{{s.TrackerURL}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	s.MetaInfo = mi
	if s.srcSums, err = fileSums(s.Src, &mi.Info); err != nil {
		tb.Fatal(err)
	}
	return s
}

// writeContent writes the files of opts under dir and returns the path to
// make the torrent of: the one file, or the directory holding them all.
func writeContent(dir string, opts Options) (string, error) {
	paths := make([]string, 0, len(opts.Files))
	for p := range opts.Files {
		paths = append(paths, p)
	}
	slices.Sort(paths) // the same seed gives the same bytes in the same files
	rng := rand.NewChaCha8(seedBytes(opts.Seed))
	root := filepath.Join(dir, opts.Name)
	single := len(paths) == 1
	for _, p := range paths {
		dst := filepath.Join(root, filepath.FromSlash(p))
		if single {
			dst = root
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		f, err := os.Create(dst)
		if err != nil {
			return "", err
		}
		_, err = io.CopyN(f, rng, opts.Files[p])
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
	}
	return root, nil
}

// seedBytes spreads seed over a ChaCha8 key.
func seedBytes(seed uint64) (b [32]byte) {
	for i := range b {
		b[i] = byte(seed >> (8 * (i % 8)))
	}
	return b
}

// fileSums hashes each file of info as laid out under dir.
func fileSums(dir string, info *metainfo.Info) ([]metainfo.Hash, error) {
	sums := make([]metainfo.Hash, len(info.Files))
	for i := range info.Files {
		f := &info.Files[i]
		if f.IsPad() || f.IsSymlink() {
			continue
		}
		h := sha1.New()
		fd, err := os.Open(filepath.Join(dir, filepath.FromSlash(info.DisplayPath(f))))
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(h, fd)
		fd.Close()
		if err != nil {
			return nil, err
		}
		h.Sum(sums[i][:0])
	}
	return sums, nil
}

// Node is one client of the swarm.
type Node struct {
	// Torrent is the node's engine.
	Torrent *fetch.Torrent
	// Dir is the node's data directory.
	Dir string
	// Addr is where the node accepts peers.
	Addr netip.AddrPort

	swarm    *Swarm
	store    *filestore.Store
	leecher  bool
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// AddSeeder starts a node serving the original content; its data is checked
// first, as btfs seed does.
func (s *Swarm) AddSeeder() *Node {
	s.tb.Helper()
	return s.start(s.Src, true)
}

// AddLeecher starts a node that downloads the whole torrent into an empty
// directory of its own (and then seeds it, as every complete node does).
func (s *Swarm) AddLeecher() *Node {
	s.tb.Helper()
	return s.start(s.tb.TempDir(), false)
}

func (s *Swarm) start(dir string, seed bool) *Node {
	s.tb.Helper()
	mi := s.MetaInfo
	store := filestore.Open(dir, &mi.Info, !seed)
	cfg := fetch.Config{
		Info: &mi.Info, InfoHash: mi.InfoHash, PeerID: wire.NewPeerID("-TS0001-"), Storage: store,
		WantAll: !seed, Trackers: [][]string{{s.TrackerURL}}, AnnounceMinWait: s.opts.AnnounceEvery,
		Logger: s.opts.Logger,
	}
	if seed {
		res, err := fetch.Check(context.Background(), &mi.Info, store, nil)
		if err != nil || res.FirstBad >= 0 {
			store.Close()
			s.tb.Fatalf("testswarm: seeder's data: %v; first bad piece %d: %v", err, res.FirstBad, res.BadErr)
		}
		cfg.Have = res.Have
	}
	ln, err := fetch.Listen("127.0.0.1:0", s.opts.Logger)
	if err != nil {
		store.Close()
		s.tb.Fatal(err)
	}
	cfg.ListenPort = ln.Port()
	if s.opts.Config != nil {
		s.opts.Config(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		Torrent: fetch.New(cfg), Dir: dir, Addr: netip.MustParseAddrPort(ln.Addr().String()),
		swarm: s, store: store, leecher: !seed, cancel: cancel,
	}
	ln.Add(n.Torrent)
	n.wg.Go(func() { ln.Serve(ctx) })
	n.wg.Go(func() { n.Torrent.Run(ctx) })
	s.tb.Cleanup(n.Stop)
	return n
}

// Stop stops the node: it says "stopped" to the tracker, closes its
// connections and files, and returns when all of its goroutines have ended.
// It may be called more than once.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		n.cancel()
		n.wg.Wait()
		n.store.Close()
	})
}

// WaitDone waits until the node has every piece, or fails after timeout
// with what the node knows of the swarm. A leecher's files are then given
// their exact lengths, as btfs get does (empty files appear only then).
func (n *Node) WaitDone(timeout time.Duration) error {
	select {
	case <-n.Torrent.Done():
		if n.leecher {
			return n.store.Finish()
		}
		return nil
	case <-time.After(timeout):
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := n.Torrent.Stats(ctx)
	if err != nil {
		return fmt.Errorf("testswarm: %s not complete after %v (stats: %w)", n.Addr, timeout, err)
	}
	return fmt.Errorf("testswarm: %s not complete after %v: %d of %d pieces, %d peers (%d seeders), %d addresses known",
		n.Addr, timeout, st.Have, st.Pieces, st.Peers, st.Seeders, st.Candidates)
}

// CheckFiles compares each file the node holds with the original, by SHA-1.
func (n *Node) CheckFiles() error {
	info := &n.swarm.MetaInfo.Info
	got, err := fileSums(n.Dir, info)
	if err != nil {
		return fmt.Errorf("testswarm: %s: %w", n.Addr, err)
	}
	var errs []error
	for i, want := range n.swarm.srcSums {
		if got[i] != want {
			errs = append(errs, fmt.Errorf("testswarm: %s: %s has SHA-1 %s, want %s",
				n.Addr, info.DisplayPath(&info.Files[i]), got[i], want))
		}
	}
	return errors.Join(errs...)
}
