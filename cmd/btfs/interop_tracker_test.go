package main

// Interop of the tracker (issue 3). Third-party clients announce to a real
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
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/netip"
	neturl "net/url"
	"os"
	"os/exec"
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
	requireTool(t, "aria2c")
	t.Parallel()
	l := newTrackerLab(t)
	tr := l.startBtfsTracker()
	src, sum := l.content("movie.bin", 8<<20, 1)
	torrent, hash := l.torrent(src, "movie.bin", tr.http)

	l.aria2(torrent, src, freePort(t), "--check-integrity=true")
	l.waitScrape(tr.http, hash, "the aria2c seeder", func(s tracker.ScrapeStats) bool { return s.Seeders == 1 })

	dst := l.dir("leech")
	leecher := l.aria2(torrent, dst, freePort(t))
	// aria2c sends "completed" only while it keeps running after the
	// download (a leecher told to quit at once sends just "stopped"), so it
	// seeds until the tracker has counted the download.
	l.waitScrape(tr.http, hash, "the aria2c leecher's completed event", func(s tracker.ScrapeStats) bool {
		return s.Downloaded >= 1 && s.Seeders == 2 && s.Leechers == 0
	})
	leecher.stop()
	if leecher.err != nil {
		t.Errorf("aria2c leecher: %v", leecher.err)
	}
	l.sameContent(filepath.Join(dst, "movie.bin"), sum)
	// Two started, one completed: the announces /stats counts (it is up to a
	// second stale, hence the wait).
	waitFor(t, "/stats to count the announces", 5*time.Second, func() bool {
		st, err := l.btfsStats(tr)
		return err == nil && st.Announces >= 3 && st.Errors == 0 && st.Torrents == 1
	})
}

// TestInteropTransmissionThroughBtfsTracker: transmission-cli seeds through
// `btfs tracker`, over HTTP to an aria2c leecher and over UDP (BEP 15) to a
// `btfs get`. The tracker must have stored transmission's announce as it
// sent it (peer id, port, seeder) for the leecher to find it.
func TestInteropTransmissionThroughBtfsTracker(t *testing.T) {
	requireTool(t, "transmission-cli")
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
				requireTool(t, "aria2c")
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

			seedPort := freePort(t)
			l.transmissionSeeder(torrent, src, seedPort)
			l.waitScrape(url, hash, "the transmission seeder", func(s tracker.ScrapeStats) bool { return s.Seeders == 1 })
			if id, ok := l.peerIDAt(tr, hash, seedPort); !ok || !strings.HasPrefix(id, "-TR3") {
				t.Fatalf("the tracker holds peer id %q for transmission's port %d; want -TR3...", id, seedPort)
			}

			dst := l.dir("leech")
			switch tt.leecher {
			case "aria2c":
				leecher := l.aria2(torrent, dst, freePort(t))
				l.waitScrape(url, hash, "the aria2c leecher's completed event", func(s tracker.ScrapeStats) bool { return s.Downloaded >= 1 })
				leecher.stop()
				if leecher.err != nil {
					t.Errorf("aria2c leecher: %v", leecher.err)
				}
			case "btfs":
				get := startProc(t, l.root, btfsBin, "get", "-o", dst, "--listen", "127.0.0.1", "--port", strconv.Itoa(freePort(t)), torrent)
				if err := get.wait(t, labTransferTimeout); err != nil {
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
	requireTool(t, "opentracker")
	t.Parallel()
	l := newTrackerLab(t)
	hashes := map[string]metainfo.Hash{"http": {1, 'h'}, "udp": {1, 'u'}}
	ot := l.startOpentracker(freePort(t), slices.Collect(maps.Values(hashes))...)
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
	requireTool(t, "opentracker")
	t.Parallel()
	l := newTrackerLab(t)
	port := freePort(t)
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
	ot := l.startOpentracker(port, hashes...)
	for _, r := range rows {
		t.Run(r.proto, func(t *testing.T) {
			t.Parallel()
			startProc(t, l.root, btfsBin, "seed", "-d", r.src, "--listen", "127.0.0.1", "--port", strconv.Itoa(freePort(t)), r.torrent)
			l.waitScrape(ot.http, r.hash, "btfs seed to announce", func(s tracker.ScrapeStats) bool { return s.Seeders == 1 })
			dst := l.dir("get-" + r.proto)
			get := startProc(t, l.root, btfsBin, "get", "-o", dst, "--listen", "127.0.0.1", "--port", strconv.Itoa(freePort(t)), r.torrent)
			if err := get.wait(t, labTransferTimeout); err != nil {
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
// the test through startProc) and helpers to drive them.
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
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(data)
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		l.t.Fatal(err)
	}
	return dir, fmt.Sprintf("%x", sha1.Sum(data))
}

// torrent makes a private torrent of dir/name announcing to url.
func (l *trackerLab) torrent(dir, name, url string) (string, metainfo.Hash) {
	l.t.Helper()
	out := filepath.Join(l.dir("torrent"), name+".torrent")
	// The binary, not the in-process btfs helper: the CLI library keeps
	// state in globals, and these tests run in parallel.
	if msg, err := exec.Command(btfsBin, "create", "--private", "-t", url, "-o", out, filepath.Join(dir, name)).CombinedOutput(); err != nil {
		l.t.Fatalf("btfs create: %v\n%s", err, msg)
	}
	mi, err := metainfo.Load(out)
	if err != nil {
		l.t.Fatal(err)
	}
	return out, mi.InfoHash
}

// sameContent checks that path holds the bytes whose SHA-1 is want.
func (l *trackerLab) sameContent(path, want string) {
	l.t.Helper()
	f, err := os.Open(path)
	if err != nil {
		l.t.Fatalf("downloaded file: %v", err)
	}
	defer f.Close()
	h := sha1.New()
	if _, err := io.Copy(h, f); err != nil {
		l.t.Fatal(err)
	}
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != want {
		l.t.Errorf("%s: SHA-1 %s, want %s (the source's)", path, got, want)
	}
}

// trackerURLs are where a running tracker answers.
type trackerURLs struct {
	http, udp, base string
}

// startBtfsTracker runs `btfs tracker` on one port for HTTP and UDP.
func (l *trackerLab) startBtfsTracker() trackerURLs {
	l.t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(l.t))
	p := startProc(l.t, l.root, btfsBin, "tracker", "--listen", addr, "--udp", addr)
	waitListening(l.t, addr)
	// The UDP socket opens after the TCP one; the line says it is bound.
	waitFor(l.t, "the tracker's UDP socket", 10*time.Second, func() bool { return strings.Contains(p.Output(), "udp://"+addr) })
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
	c := tracker.NewClient(tracker.ClientOptions{UDPTimeout: time.Second, UDPRetries: 1})
	var last tracker.ScrapeStats
	var lastErr error
	deadline := time.Now().Add(labTransferTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := c.Scrape(ctx, url, []metainfo.Hash{hash})
		cancel()
		last, lastErr = res[hash], err
		if err == nil && cond(last) {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("timed out after %v waiting for %s: last scrape %+v, err %v", labTransferTimeout, what, last, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
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

// aria2 runs aria2c on torrent with its data in dir. It seeds until
// stopped, so that a leecher announces "completed" (see its callers); a
// leecher that gets no byte for 30 s gives up on its own. DHT, local
// discovery and peer exchange are off: peers come from the tracker only.
func (l *trackerLab) aria2(torrent, dir string, port int, extra ...string) *proc {
	l.t.Helper()
	args := []string{
		"--no-conf", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=false", "--disable-ipv6=true", "--listen-port=" + strconv.Itoa(port),
		"--bt-tracker-connect-timeout=5", "--bt-stop-timeout=30", "--seed-ratio=0.0",
		"--file-allocation=none", "--summary-interval=0", "--console-log-level=warn", "--dir=" + dir,
	}
	return startProc(l.t, l.root, requireTool(l.t, "aria2c"), append(append(args, extra...), torrent)...)
}

// transmissionSeeder runs transmission-cli on torrent with its data in dir.
// Its settings keep it on loopback and off everything but the tracker.
func (l *trackerLab) transmissionSeeder(torrent, dir string, port int) *proc {
	l.t.Helper()
	cfg := l.dir("transmission")
	settings, err := json.Marshal(map[string]any{
		"dht-enabled": false, "lpd-enabled": false, "utp-enabled": false, "pex-enabled": false,
		"port-forwarding-enabled": false, "blocklist-enabled": false, "rpc-enabled": false,
		"peer-port": port, "peer-port-random-on-start": false,
		"bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
		"ratio-limit-enabled": false, "idle-seeding-limit-enabled": false,
		"download-dir": dir, "incomplete-dir-enabled": false, "message-level": 1,
	})
	if err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "settings.json"), settings, 0o644); err != nil {
		l.t.Fatal(err)
	}
	// -v checks the data first, so the first complete announce says left=0.
	return startProc(l.t, l.root, requireTool(l.t, "transmission-cli"), "-g", cfg, "-w", dir, "-v", torrent)
}

// startOpentracker runs Debian's opentracker on port (TCP and UDP) serving
// the given torrents: its build only serves whitelisted info-hashes. Run as
// root it chroots to its directory and becomes "nobody", so the directory
// must be readable by all and the whitelist named relative to it (which
// also works unprivileged, where it only changes into the directory).
func (l *trackerLab) startOpentracker(port int, hashes ...metainfo.Hash) trackerURLs {
	l.t.Helper()
	bin := requireTool(l.t, "opentracker")
	dir := l.dir("opentracker")
	probe := metainfo.Hash{0xff, 'p', 'r', 'o', 'b', 'e'}
	var list strings.Builder
	for _, h := range append(hashes, probe) {
		list.WriteString(h.String() + "\n")
	}
	conf := "access.whitelist whitelist.txt\ntracker.rootdir " + dir + "\n"
	for name, body := range map[string]string{"whitelist.txt": list.String(), "opentracker.conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			l.t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		l.t.Fatal(err)
	}
	p := strconv.Itoa(port)
	startProc(l.t, dir, bin, "-i", "127.0.0.1", "-p", p, "-P", p, "-f", filepath.Join(dir, "opentracker.conf"))
	urls := trackerURLs{http: "http://127.0.0.1:" + p + "/announce", udp: "udp://127.0.0.1:" + p, base: "http://127.0.0.1:" + p}
	waitListening(l.t, "127.0.0.1:"+p)
	// The whitelist is read by a thread of its own: wait until a
	// whitelisted torrent is served, on both transports. A stopped
	// announce leaves no peer behind.
	c := tracker.NewClient(tracker.ClientOptions{UDPTimeout: time.Second, UDPRetries: 1})
	for _, url := range []string{urls.http, urls.udp} {
		var err error
		waitFor(l.t, "opentracker to serve "+url, 10*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = c.Announce(ctx, url, tracker.AnnounceRequest{InfoHash: probe, PeerID: labPeerID("-GO0001-probe"), Port: 1, Event: tracker.EventStopped})
			var refused *tracker.FailureError
			if errors.As(err, &refused) && refused.Reason != "" && !strings.Contains(refused.Reason, "not authorized") {
				l.t.Fatalf("opentracker refuses: %v", err) // not the whitelist: something else is wrong
			}
			return err == nil
		})
	}
	return urls
}

func labPeerID(prefix string) [20]byte {
	var id [20]byte
	copy(id[:], prefix+strings.Repeat("0", 20))
	return id
}

func labHasPeer(peers []tracker.Peer, addr netip.AddrPort) bool {
	return slices.ContainsFunc(peers, func(p tracker.Peer) bool { return p.Addr == addr })
}
