package main

// Interop of the tracker. Third-party clients announce to a real
// `btfs tracker` process and find each other only through it; our clients
// announce to Debian's opentracker; and the same announce script runs
// against both trackers, which must agree. Everything stays on 127.0.0.1.
//
// What the Debian clients can do here decides who plays which part:
//
//   - aria2c reaches UDP trackers only through its DHT socket: with
//     --enable-dht=false (required, so that nothing leaves the machine) it
//     fails them with "udp is not supported yet" (aria2 issue 1491). It is
//     used over HTTP only; the UDP server meets transmission and our client.
//   - transmission-cli 3.00 never dials a peer in 127.0.0.0/8 (its
//     tr_address_is_martian counts loopback as unroutable) but accepts
//     connections from there. On loopback it can therefore only seed, with
//     the leecher dialling it; as a leecher it would wait forever.
//   - transmission-cli unchokes a new peer at its next rechoke, every 10 s,
//     so its transfers are kept small: the wait is fixed, not per byte.
//   - Debian builds opentracker with a whitelist: it refuses every info-hash
//     not in its access list, so each test writes one.
//
// All torrents are private (BEP 27), which also tells the clients to keep
// the swarm to the tracker's peers: no DHT, PEX or local discovery.

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/btfs/btfs/internal/testproc"
	"github.com/btfs/btfs/internal/wait"
	"io"
	"maps"
	"net/http"
	"net/netip"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/bencode"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/tracker"
)

// labTransferTimeout bounds one download on loopback. The slowest, from
// transmission, takes about 12 s (a rechoke period and a slow start).
const labTransferTimeout = 45 * time.Second

// TestInteropAria2ThroughBtfsTracker: an aria2c seeder and an aria2c leecher
// that know each other only through `btfs tracker` over HTTP; the leecher
// gets every byte, and the tracker counts its completed download.
func TestInteropAria2ThroughBtfsTracker(t *testing.T) {
	testproc.RequireTool(t, "aria2c")
	t.Parallel()
	l := newTrackerLab(t)
	tr := l.startBtfsTracker()
	src, sum := l.content("movie.bin", 8<<20, 1)
	torrent, hash := l.torrent(src, "movie.bin", tr.http)

	l.aria2(torrent, src, "--check-integrity=true")
	l.waitScrape(tr.http, hash, "the aria2c seeder", func(s tracker.ScrapeStats) bool { return s.Seeders == 1 })

	dst := l.dir("leech")
	leecher := l.aria2(torrent, dst)
	// aria2c sends "completed" only while it keeps running after the
	// download (a leecher told to quit at once sends just "stopped"), so it
	// seeds until the tracker has counted the download.
	l.waitScrape(tr.http, hash, "the aria2c leecher's completed event", func(s tracker.ScrapeStats) bool {
		return s.Downloaded >= 1 && s.Seeders == 2 && s.Leechers == 0
	})
	leecher.Stop()
	if leecher.Err() != nil {
		t.Errorf("aria2c leecher: %v", leecher.Err())
	}
	l.sameContent(filepath.Join(dst, "movie.bin"), sum)
	// Two started, one completed: the announces /stats counts (it is up to a
	// second stale, hence the wait).
	wait.For(t, "/stats to count the announces", 5*time.Second, func() bool {
		st, err := l.btfsStats(tr)
		return err == nil && st.Announces >= 3 && st.Errors == 0 && st.Torrents == 1
	})
}

// TestInteropTransmissionThroughBtfsTracker: transmission-cli seeds through
// `btfs tracker`, over HTTP to an aria2c leecher and over UDP (BEP 15) to a
// `btfs get`. The tracker must have stored transmission's announce as it
// sent it (peer id, port, seeder) for the leecher to find it.
func TestInteropTransmissionThroughBtfsTracker(t *testing.T) {
	testproc.RequireTool(t, "transmission-cli")
	tests := []struct {
		proto   string
		leecher string // aria2c speaks only HTTP to trackers here; see the top of the file
	}{
		{"http", "aria2c"},
		{"udp", "btfs"},
	}
	for i, tt := range tests {
		t.Run(tt.proto, func(t *testing.T) {
			if tt.leecher == "aria2c" {
				testproc.RequireTool(t, "aria2c")
			}
			t.Parallel()
			l := newTrackerLab(t)
			tr := l.startBtfsTracker()
			url := tr.http
			if tt.proto == "udp" {
				url = tr.udp
			}
			src, sum := l.content("clip.bin", 1<<20, uint64(10+i))
			torrent, hash := l.torrent(src, "clip.bin", url)

			seedPort := testproc.FreePort(t)
			seedTransmission(t, torrent, src, seedPort, url, hash)
			if id, ok := l.peerIDAt(tr, hash, seedPort); !ok || !strings.HasPrefix(id, "-TR3") {
				t.Fatalf("the tracker holds peer id %q for transmission's port %d; want -TR3...", id, seedPort)
			}

			dst := l.dir("leech")
			switch tt.leecher {
			case "aria2c":
				leecher := l.aria2(torrent, dst)
				l.waitScrape(url, hash, "the aria2c leecher's completed event", func(s tracker.ScrapeStats) bool { return s.Downloaded >= 1 })
				leecher.Stop()
				if leecher.Err() != nil {
					t.Errorf("aria2c leecher: %v", leecher.Err())
				}
			case "btfs":
				get := testproc.Start(t, l.root, btfsBin, "get", "--no-dht", "-o", dst, "--listen", "127.0.0.1", "--port", strconv.Itoa(testproc.FreePort(t)), torrent)
				if err := get.Wait(t, labTransferTimeout); err != nil {
					t.Fatalf("btfs get: %v", err)
				}
				// It exits once complete, and says so on the way out.
				l.waitScrape(url, hash, "btfs get's completed event", func(s tracker.ScrapeStats) bool { return s.Downloaded == 1 })
			}
			l.sameContent(filepath.Join(dst, "clip.bin"), sum)
			// Nothing transmission or the leecher sent (announces, scrapes)
			// was refused.
			if st, err := l.btfsStats(tr); err != nil || st.Errors != 0 {
				t.Errorf("/stats: %+v, %v; want no errors", st, err)
			}
		})
	}
}

// TestInteropTrackersAgree runs one announce script with two peers against
// `btfs tracker` and against opentracker, over HTTP and UDP, with our
// client: each peer gets the other back, and the counts (seeders, leechers,
// downloads) agree with what the peers said.
func TestInteropTrackersAgree(t *testing.T) {
	testproc.RequireTool(t, "opentracker")
	t.Parallel()
	l := newTrackerLab(t)
	hashes := map[string]metainfo.Hash{"http": {1, 'h'}, "udp": {1, 'u'}}
	ot := startOpentracker(t, testproc.FreePort(t), slices.Collect(maps.Values(hashes))...)
	bt := l.startBtfsTracker()
	for _, tk := range []struct {
		name      string
		http, udp string
	}{
		{"btfs", bt.http, bt.udp},
		{"opentracker", ot.http, ot.udp},
	} {
		for _, proto := range []string{"http", "udp"} {
			url := tk.http
			if proto == "udp" {
				url = tk.udp
			}
			t.Run(tk.name+"/"+proto, func(t *testing.T) { trackerAnnounceScript(t, url, hashes[proto]) })
		}
	}
}

// trackerAnnounceScript: a seeder and a leecher announce; each is handed
// the other; the leecher completes; both leave. Scrapes check the counts
// after each step.
func trackerAnnounceScript(t *testing.T, url string, hash metainfo.Hash) {
	c := tracker.NewClient(tracker.ClientOptions{UDPTimeout: time.Second, UDPRetries: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seeder := tracker.AnnounceRequest{InfoHash: hash, PeerID: labPeerID("-GO0001-seeder"), Port: 40001, Left: 0, Event: tracker.EventStarted}
	leecher := tracker.AnnounceRequest{InfoHash: hash, PeerID: labPeerID("-GO0001-leecher"), Port: 40002, Left: 1 << 20, Event: tracker.EventStarted}
	at := func(port uint16) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
	}
	announce := func(req tracker.AnnounceRequest) tracker.AnnounceResponse {
		t.Helper()
		resp, err := c.Announce(ctx, url, req)
		if err != nil {
			t.Fatalf("announce port %d %v: %v", req.Port, req.Event, err)
		}
		return resp
	}
	scrape := func(step string, want tracker.ScrapeStats) {
		t.Helper()
		got, err := c.Scrape(ctx, url, []metainfo.Hash{hash})
		if err != nil {
			t.Fatalf("scrape %s: %v", step, err)
		}
		if got[hash] != want {
			t.Errorf("scrape %s: %+v, want %+v", step, got[hash], want)
		}
	}

	announce(seeder)
	resp := announce(leecher)
	if !labHasPeer(resp.Peers, at(seeder.Port)) || resp.Seeders != 1 || resp.Leechers != 1 {
		t.Errorf("leecher's announce: %d seeders, %d leechers, peers %v; want the seeder at %v", resp.Seeders, resp.Leechers, resp.Peers, at(seeder.Port))
	}
	seeder.Event = tracker.EventNone
	if resp := announce(seeder); !labHasPeer(resp.Peers, at(leecher.Port)) {
		t.Errorf("seeder's announce: peers %v; want the leecher at %v", resp.Peers, at(leecher.Port))
	}
	scrape("after both started", tracker.ScrapeStats{Seeders: 1, Leechers: 1})

	leecher.Left, leecher.Event = 0, tracker.EventCompleted
	announce(leecher)
	scrape("after completed", tracker.ScrapeStats{Seeders: 2, Downloaded: 1})

	leecher.Event, seeder.Event = tracker.EventStopped, tracker.EventStopped
	announce(leecher)
	announce(seeder)
	scrape("after both stopped", tracker.ScrapeStats{Downloaded: 1})
}

// TestInteropBtfsThroughOpentracker: `btfs seed` and `btfs get` find each
// other through opentracker, over HTTP and over UDP.
func TestInteropBtfsThroughOpentracker(t *testing.T) {
	testproc.RequireTool(t, "opentracker")
	t.Parallel()
	l := newTrackerLab(t)
	port := testproc.FreePort(t)
	type row struct {
		proto, torrent, src, sum string
		hash                     metainfo.Hash
	}
	rows := []*row{{proto: "http"}, {proto: "udp"}}
	var hashes []metainfo.Hash
	for i, r := range rows {
		url := fmt.Sprintf("http://127.0.0.1:%d/announce", port)
		if r.proto == "udp" {
			url = fmt.Sprintf("udp://127.0.0.1:%d", port)
		}
		// Different bytes per row: the info-hash does not cover the tracker.
		r.src, r.sum = l.content("data.bin", 4<<20, uint64(20+i))
		r.torrent, r.hash = l.torrent(r.src, "data.bin", url)
		hashes = append(hashes, r.hash)
	}
	ot := startOpentracker(t, port, hashes...)
	for _, r := range rows {
		t.Run(r.proto, func(t *testing.T) {
			t.Parallel()
			testproc.Start(t, l.root, btfsBin, "seed", "--no-dht", "-d", r.src, "--listen", "127.0.0.1", "--port", strconv.Itoa(testproc.FreePort(t)), r.torrent)
			l.waitScrape(ot.http, r.hash, "btfs seed to announce", func(s tracker.ScrapeStats) bool { return s.Seeders == 1 })
			dst := l.dir("get-" + r.proto)
			get := testproc.Start(t, l.root, btfsBin, "get", "--no-dht", "-o", dst, "--listen", "127.0.0.1", "--port", strconv.Itoa(testproc.FreePort(t)), r.torrent)
			if err := get.Wait(t, labTransferTimeout); err != nil {
				t.Fatalf("btfs get: %v", err)
			}
			l.sameContent(filepath.Join(dst, "data.bin"), r.sum)
			// opentracker counted the download: btfs get said completed
			// before stopped, though it exits as soon as it is done.
			l.waitScrape(ot.http, r.hash, "opentracker to count the download", func(s tracker.ScrapeStats) bool { return s.Downloaded == 1 })
		})
	}
}

// trackerLab holds what one test runs: a directory, its processes (owned by
// the test through testproc.Start) and helpers to drive them.
type trackerLab struct {
	t    *testing.T
	root string
}

func newTrackerLab(t *testing.T) *trackerLab {
	return &trackerLab{t: t, root: t.TempDir()}
}

// dir makes a new directory under the lab's root.
func (l *trackerLab) dir(name string) string {
	l.t.Helper()
	d, err := os.MkdirTemp(l.root, name+"-")
	if err != nil {
		l.t.Fatal(err)
	}
	return d
}

// content writes size pseudo-random bytes (fixed by seed) to a new
// directory and returns the directory and the bytes' SHA-1.
func (l *trackerLab) content(name string, size int, seed uint64) (dir, sum string) {
	l.t.Helper()
	dir = l.dir("src")
	writeRandomTree(l.t, dir, map[string]int64{name: int64(size)}, [32]byte{byte(seed), byte(seed >> 8)})
	sum, err := fileSHA1Hex(filepath.Join(dir, name))
	if err != nil {
		l.t.Fatal(err)
	}
	return dir, sum
}

// torrent makes a private torrent of dir/name announcing to url.
func (l *trackerLab) torrent(dir, name, url string) (string, metainfo.Hash) {
	l.t.Helper()
	out := filepath.Join(l.dir("torrent"), name+".torrent")
	return out, createTorrent(l.t, out, "--private", "-t", url, filepath.Join(dir, name)).InfoHash
}

// sameContent checks that path holds the bytes whose SHA-1 is want.
func (l *trackerLab) sameContent(path, want string) {
	l.t.Helper()
	got, err := fileSHA1Hex(path)
	if err != nil {
		l.t.Fatalf("downloaded file: %v", err)
	}
	if got != want {
		l.t.Errorf("%s: SHA-1 %s, want %s (the source's)", path, got, want)
	}
}

// startBtfsTracker runs `btfs tracker` on one port for HTTP and UDP.
func (l *trackerLab) startBtfsTracker() trackerURLs {
	l.t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(l.t))
	p := testproc.Start(l.t, l.root, btfsBin, "tracker", "--listen", addr, "--udp", addr)
	waitListening(l.t, addr)
	// The UDP socket opens after the TCP one; the line says it is bound.
	wait.For(l.t, "the tracker's UDP socket", 10*time.Second, func() bool { return strings.Contains(p.Output(), "udp://"+addr) })
	return trackerURLs{http: "http://" + addr + "/announce", udp: "udp://" + addr, base: "http://" + addr}
}

func (l *trackerLab) btfsStats(tr trackerURLs) (tracker.Stats, error) {
	var st tracker.Stats
	resp, err := http.Get(tr.base + "/stats")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitScrape waits until a scrape of hash at url satisfies cond.
func (l *trackerLab) waitScrape(url string, hash metainfo.Hash, what string, cond func(tracker.ScrapeStats) bool) {
	l.t.Helper()
	waitScrape(l.t, url, hash, what, labTransferTimeout, cond)
}

// peerIDAt asks the tracker for its peers in the dictionary model, which
// carries peer ids, and returns the id stored for 127.0.0.1:port. It asks
// over HTTP whatever transport that peer used: both share one swarm. The
// asking peer leaves again at once.
func (l *trackerLab) peerIDAt(tr trackerURLs, hash metainfo.Hash, port int) (string, bool) {
	l.t.Helper()
	q := "info_hash=" + neturl.QueryEscape(string(hash[:])) + "&peer_id=" + "-GO0001-observer0000" + "&port=1&left=1&compact=0"
	get := func(extra string) bencode.Value {
		resp, err := http.Get(tr.http + "?" + q + extra)
		if err != nil {
			l.t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			l.t.Fatal(err)
		}
		v, err := bencode.Parse(body)
		if err != nil {
			l.t.Fatalf("announce reply %q: %v", body, err)
		}
		return v
	}
	defer get("&event=stopped")
	for p := range get("&event=started").Get("peers").Items() {
		if n, _ := p.Get("port").Int(); n == int64(port) {
			ip, _ := p.Get("ip").Str()
			id, _ := p.Get("peer id").Str()
			return id, ip == "127.0.0.1"
		}
	}
	return "", false
}

// aria2 runs aria2c on torrent with its data in dir (startAria2). It seeds
// until stopped, so that a leecher announces "completed" (see its callers);
// a leecher that gets no byte for 30 s gives up on its own.
func (l *trackerLab) aria2(torrent, dir string, extra ...string) *testproc.Proc {
	l.t.Helper()
	return startAria2(l.t, torrent, dir, append([]string{"--seed-ratio=0.0", "--bt-stop-timeout=30"}, extra...)...)
}

func labHasPeer(peers []tracker.Peer, addr netip.AddrPort) bool {
	return slices.ContainsFunc(peers, func(p tracker.Peer) bool { return p.Addr == addr })
}
