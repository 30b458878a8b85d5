package session

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/btfs/btfs/cache"
	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/internal/leakcheck"
	"github.com/btfs/btfs/internal/testswarm"
	"github.com/btfs/btfs/internal/wait"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

func TestMain(m *testing.M) {
	os.Exit(leakcheck.Main(m, "btfs/btfs/session.", "btfs/btfs/fetch."))
}

// eventLog is a tracker proxy that records the event of every announce.
type eventLog struct {
	URL string
	mu  sync.Mutex
	evs []string
}

func recordEvents(t *testing.T, trackerURL string) *eventLog {
	u, err := url.Parse(trackerURL)
	if err != nil {
		t.Fatal(err)
	}
	l := &eventLog{}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.evs = append(l.evs, r.URL.Query().Get("event"))
		l.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	l.URL = srv.URL + u.Path
	return l
}

func (l *eventLog) saw(ev string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.evs, ev)
}

// newSession starts a session with a cache of its own on loopback.
func newSession(t *testing.T, cfg Config) *Session {
	t.Helper()
	cc, err := cache.Open(t.TempDir(), cache.Options{MaxSize: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := fetch.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.PeerID, cfg.Listener, cfg.Cache, cfg.AnnounceMinWait = wire.NewPeerID("-bf0001-"), ln, cc, time.Second
	s := New(cfg)
	t.Cleanup(func() { s.Close() })
	return s
}

// swarmWithSeeder makes a torrent with one seeder, announced through a
// proxy that records events; the torrent's MetaInfo names the proxy.
func swarmWithSeeder(t *testing.T, seed uint64) (*testswarm.Swarm, *testswarm.Node, *metainfo.MetaInfo, *eventLog) {
	sw := testswarm.New(t, testswarm.Options{Files: map[string]int64{"one.bin": 1<<20 + 333}, Seed: seed, PieceLength: 64 << 10})
	seeder := sw.AddSeeder()
	ev := recordEvents(t, sw.TrackerURL)
	mi := *sw.MetaInfo
	mi.Trackers = [][]string{{ev.URL}}
	return sw, seeder, &mi, ev
}

// readAll reads the torrent's one file through its Source.
func readAll(t *testing.T, tor *Torrent, mi *metainfo.MetaInfo) []byte {
	t.Helper()
	r := tor.Source(1<<20).Open(0, mi.Info.Length)
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	buf := make([]byte, mi.Info.Length)
	if n, err := r.ReadAt(ctx, buf, 0); err != nil || n != len(buf) {
		t.Fatalf("read %d of %d bytes: %v", n, len(buf), err)
	}
	return buf
}

func srcBytes(t *testing.T, sw *testswarm.Swarm) []byte {
	b, err := os.ReadFile(filepath.Join(sw.Src, sw.MetaInfo.Info.Name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func connected(tor *Torrent) bool {
	e := tor.Engine()
	if e == nil {
		return false
	}
	st, err := e.Stats(context.Background())
	return err == nil && st.Peers > 0
}

// Torrents come and go while the session runs: each reads exact bytes,
// a removed one leaves the session and its swarm.
func TestAddRemove(t *testing.T) {
	s := newSession(t, Config{})
	swA, _, miA, evA := swarmWithSeeder(t, 1)
	a, err := s.Add(t.Context(), Spec{MetaInfo: miA})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, a, miA); !bytes.Equal(got, srcBytes(t, swA)) {
		t.Fatal("torrent A: wrong bytes")
	}
	swB, _, miB, _ := swarmWithSeeder(t, 2)
	b, err := s.Add(t.Context(), Spec{MetaInfo: miB})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, b, miB); !bytes.Equal(got, srcBytes(t, swB)) {
		t.Fatal("torrent B: wrong bytes")
	}
	if n := len(s.Torrents()); n != 2 {
		t.Fatalf("%d torrents, want 2", n)
	}
	// A second Add shares the torrent; only the last Remove stops it.
	if again, _ := s.Add(t.Context(), Spec{MetaInfo: miA}); again != a {
		t.Fatal("a second Add of A made another torrent")
	}
	s.Remove(a.Key())
	if s.Torrent(a.Key()) == nil || !a.Active() {
		t.Fatal("A went with its first Remove")
	}
	s.Remove(a.Key())
	if s.Torrent(a.Key()) != nil || a.Active() {
		t.Fatal("A stayed after its last Remove")
	}
	wait.For(t, "A's stopped announce", 10*time.Second, func() bool { return evA.saw("stopped") })
	if !b.Active() || len(s.Torrents()) != 1 {
		t.Fatal("removing A touched B")
	}
	if err := s.Remove(a.Key()); err == nil {
		t.Fatal("a third Remove of A did not fail")
	}
}

// An idle torrent parks (no connection, "stopped" announced); a read then
// rejoins at once and returns exact bytes.
func TestParkAndRejoin(t *testing.T) {
	s := newSession(t, Config{IdleTimeout: 300 * time.Millisecond})
	sw, seeder, mi, ev := swarmWithSeeder(t, 3)
	tor, err := s.Add(t.Context(), Spec{MetaInfo: mi})
	if err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the seeder", 10*time.Second, func() bool { return connected(tor) || !tor.Active() })
	wait.For(t, "parking", 10*time.Second, func() bool { return !tor.Active() })
	wait.For(t, "the stopped announce", 10*time.Second, func() bool { return ev.saw("stopped") })
	wait.For(t, "the seeder to lose us", 10*time.Second, func() bool {
		st, err := seeder.Torrent.Stats(t.Context())
		return err == nil && st.Peers == 0
	})

	start := time.Now()
	got := readAll(t, tor, mi)
	if !bytes.Equal(got, srcBytes(t, sw)) {
		t.Fatal("wrong bytes after rejoining")
	}
	t.Logf("read %d bytes of a parked torrent in %v", len(got), time.Since(start))
	if n := tor.Activations(); n < 2 {
		t.Fatalf("%d activations, want a rejoin", n)
	}
	// Read from the cache now: parked again, it needs no peer.
	wait.For(t, "parking again", 10*time.Second, func() bool { return !tor.Active() })
	seeder.Stop()
	if got := readAll(t, tor, mi); !bytes.Equal(got, srcBytes(t, sw)) {
		t.Fatal("wrong bytes from the cache")
	}
}

// MaxActive parks the least recently read torrent to make room.
func TestMaxActive(t *testing.T) {
	s := newSession(t, Config{MaxActive: 1})
	_, _, miA, _ := swarmWithSeeder(t, 4)
	_, _, miB, _ := swarmWithSeeder(t, 5)
	a, err := s.Add(t.Context(), Spec{MetaInfo: miA})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Add(t.Context(), Spec{MetaInfo: miB})
	if err != nil {
		t.Fatal(err)
	}
	if a.Active() || !b.Active() {
		t.Fatalf("active: A %v, B %v; want B only", a.Active(), b.Active())
	}
	readAll(t, a, miA)
	if !a.Active() || b.Active() {
		t.Fatalf("after reading A, active: A %v, B %v; want A only", a.Active(), b.Active())
	}
}
