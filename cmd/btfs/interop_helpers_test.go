package main

// Helpers shared by the interop tests (interop_swarm_test.go,
// interop_tracker_test.go, interop_mount_test.go): content of random bytes,
// torrents, Debian's opentracker with its whitelist, aria2c and
// transmission-cli kept on loopback, and SHA-1 comparisons of trees. Every
// process is owned by its test (testproc.Start) and everything stays on
// 127.0.0.1: DHT, local peer discovery, PEX, uTP and port mapping are off in
// every client, so peers meet only through the tracker.

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/btfs/btfs/internal/testproc"
	"github.com/btfs/btfs/internal/wait"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/tracker"
)

// Deadlines. Each transfer is a few MiB over loopback: aria2 and btfs take a
// second or two (btfs is built with -race here); Transmission unchokes a new
// peer only at its next 10-second choke round and then ramps its upload up,
// so it gets more.
const (
	interopTransfer = 60 * time.Second
	interopStartup  = 15 * time.Second
)

// clearProxies empties the proxy variables for the rest of the test: a proxy
// set in the environment must not see (or break) the clients' requests to
// the tracker on 127.0.0.1, and aria2 and Transmission use it. It uses
// t.Setenv, so the test cannot be parallel.
func clearProxies(t *testing.T) {
	t.Helper()
	for _, k := range []string{"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"} {
		t.Setenv(k, "") // restored when the test ends
		os.Unsetenv(k)
	}
}

// writeRandomTree writes each file (slash-separated path under root: size)
// with bytes drawn in order of path from one ChaCha8 stream keyed by seed, so
// the same call writes the same bytes.
func writeRandomTree(t *testing.T, root string, files map[string]int64, seed [32]byte) {
	t.Helper()
	rng := rand.NewChaCha8(seed)
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.CopyN(f, rng, files[rel])
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// createTorrent runs `btfs create -o out args...` and loads the result. It
// runs the binary, not the in-process btfs helper: the CLI library keeps
// state in globals, and some of these tests run in parallel.
func createTorrent(t *testing.T, out string, args ...string) *metainfo.MetaInfo {
	t.Helper()
	args = append([]string{"create", "-o", out}, args...)
	if msg, err := exec.Command(btfsBin, args...).CombinedOutput(); err != nil {
		t.Fatalf("btfs %q: %v\n%s", args, err, msg)
	}
	mi, err := metainfo.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	return mi
}

// trackerURLs are where a running tracker answers.
type trackerURLs struct {
	http, udp, base string
}

// startOpentracker runs Debian's opentracker on port (TCP and UDP) serving
// the given torrents: its build only serves whitelisted info-hashes. Run as
// root it chroots to its directory and becomes "nobody", so the directory
// must be readable by all and the whitelist named relative to it (which
// also works unprivileged, where it only changes into the directory).
func startOpentracker(t *testing.T, port int, hashes ...metainfo.Hash) trackerURLs {
	t.Helper()
	bin := testproc.RequireTool(t, "opentracker")
	dir := t.TempDir()
	probe := metainfo.Hash{0xff, 'p', 'r', 'o', 'b', 'e'}
	var list strings.Builder
	for _, h := range append(hashes, probe) {
		list.WriteString(h.String() + "\n")
	}
	conf := "access.whitelist whitelist.txt\ntracker.rootdir " + dir + "\n"
	for name, body := range map[string]string{"whitelist.txt": list.String(), "opentracker.conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := strconv.Itoa(port)
	testproc.Start(t, dir, bin, "-i", "127.0.0.1", "-p", p, "-P", p, "-f", filepath.Join(dir, "opentracker.conf"))
	urls := trackerURLs{http: "http://127.0.0.1:" + p + "/announce", udp: "udp://127.0.0.1:" + p, base: "http://127.0.0.1:" + p}
	waitListening(t, "127.0.0.1:"+p)
	// The whitelist is read by a thread of its own: wait until a
	// whitelisted torrent is served, on both transports. A stopped
	// announce leaves no peer behind.
	c := tracker.NewClient(tracker.ClientOptions{UDPTimeout: time.Second, UDPRetries: 1})
	for _, url := range []string{urls.http, urls.udp} {
		var err error
		wait.For(t, "opentracker to serve "+url, interopStartup, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = c.Announce(ctx, url, tracker.AnnounceRequest{InfoHash: probe, PeerID: labPeerID("-GO0001-probe"), Port: 1, Event: tracker.EventStopped})
			var refused *tracker.FailureError
			if errors.As(err, &refused) && refused.Reason != "" && !strings.Contains(refused.Reason, "not authorized") {
				t.Fatalf("opentracker refuses: %v", err) // not the whitelist: something else is wrong
			}
			return err == nil
		})
	}
	return urls
}

// labPeerID pads prefix with zeros to a peer id.
func labPeerID(prefix string) [20]byte {
	var id [20]byte
	copy(id[:], prefix+strings.Repeat("0", 20))
	return id
}

// waitScrape waits up to timeout until a scrape of hash at url (HTTP or
// UDP) satisfies cond.
func waitScrape(t *testing.T, url string, hash metainfo.Hash, what string, timeout time.Duration, cond func(tracker.ScrapeStats) bool) {
	t.Helper()
	c := tracker.NewClient(tracker.ClientOptions{UDPTimeout: time.Second, UDPRetries: 1})
	var last tracker.ScrapeStats
	var lastErr error
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := c.Scrape(ctx, url, []metainfo.Hash{hash})
		cancel()
		last, lastErr = res[hash], err
		if err == nil && cond(last) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: last scrape %+v, err %v", timeout, what, last, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// aria2Seed makes startAria2 verify the data, then seed until the test ends
// (ratio 0: no limit).
var aria2Seed = []string{"--check-integrity=true", "--seed-ratio=0.0"}

// startAria2 runs aria2c on torrent with its data in dir, on a port of its
// own on 127.0.0.1, with no configuration file, DHT, local discovery, peer
// exchange or IPv6: peers come from the tracker only. extra options (its
// part: aria2Seed, or how a leecher ends) go last.
func startAria2(t *testing.T, torrent, dir string, extra ...string) *testproc.Proc {
	t.Helper()
	return startAria2At(t, testproc.FreePort(t), torrent, dir, extra...)
}

// startAria2At is startAria2 listening on port (for a test that gives its
// address to a peer directly); torrent may be a magnet link.
func startAria2At(t *testing.T, port int, torrent, dir string, extra ...string) *testproc.Proc {
	t.Helper()
	bin := testproc.RequireTool(t, "aria2c")
	args := []string{
		"--no-conf", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
		"--disable-ipv6=true", "--interface=127.0.0.1", "--listen-port=" + strconv.Itoa(port),
		"--dir=" + dir, "--file-allocation=none", "--summary-interval=0", "--enable-color=false",
		"--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=5", "--console-log-level=notice",
	}
	return testproc.Start(t, dir, bin, append(append(args, extra...), torrent)...)
}

// startTransmission runs transmission-cli on torrent with its data in dir,
// with a configuration of its own that keeps it on loopback: no DHT, LPD,
// PEX, uTP, port mapping, RPC or blocklist updates, listening on port of
// 127.0.0.1 (and ::1) only. A seeder verifies the data first (-v):
// Transmission trusts nothing it did not check, and its first complete
// announce then says left=0.
func startTransmission(t *testing.T, torrent, dir string, port int, seed bool) *testproc.Proc {
	t.Helper()
	bin := testproc.RequireTool(t, "transmission-cli")
	cfg := t.TempDir()
	settings, err := json.Marshal(map[string]any{
		"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
		"port-forwarding-enabled": false, "rpc-enabled": false, "blocklist-enabled": false,
		"bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
		"peer-port": port, "peer-port-random-on-start": false,
		"speed-limit-up-enabled": false, "speed-limit-down-enabled": false,
		"ratio-limit-enabled": false, "idle-seeding-limit-enabled": false,
		"download-dir": dir, "incomplete-dir-enabled": false, "message-level": 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "settings.json"), settings, 0o644); err != nil {
		t.Fatal(err)
	}
	// Encryption stays at Transmission's default, "preferred", as users run
	// it: btfs does not speak MSE, and Transmission takes its plain
	// handshake.
	args := []string{"-g", cfg, "-w", dir, "-p", strconv.Itoa(port), "-M"}
	if seed {
		args = append(args, "-v")
	}
	return testproc.Start(t, dir, bin, append(args, torrent)...)
}

// seedTransmission starts transmission-cli seeding torrent (data in dir, on
// port) and waits until the tracker at url counts a seeder. transmission-cli
// -v has a race of its own: on a busy machine its main loop can see the
// torrent stopped between "verify" and "start" and exit as if done. It is
// then started again, twice at most.
func seedTransmission(t *testing.T, torrent, dir string, port int, url string, hash metainfo.Hash) *testproc.Proc {
	t.Helper()
	c := tracker.NewClient(tracker.ClientOptions{UDPTimeout: time.Second, UDPRetries: 1})
	for attempt := 1; ; attempt++ {
		p := startTransmission(t, torrent, dir, port, true)
		deadline := time.Now().Add(labTransferTimeout)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := c.Scrape(ctx, url, []metainfo.Hash{hash})
			cancel()
			if err == nil && res[hash].Seeders >= 1 {
				return p
			}
			if time.Now().After(deadline) {
				t.Fatalf("transmission-cli is not seeding after %v: last scrape %+v, %v", labTransferTimeout, res[hash], err)
			}
			select {
			case <-p.Done():
			case <-time.After(100 * time.Millisecond):
				continue
			}
			break
		}
		if attempt == 3 {
			t.Fatalf("transmission-cli exited %d times before seeding:\n%s", attempt, p.Output())
		}
		t.Logf("transmission-cli exited before seeding (%v); starting it again", p.Err())
	}
}

// fileSHA1Hex is the SHA-1 of the file at path, in hex.
func fileSHA1Hex(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha1.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// treeDifferences lists the files (slash-separated paths) that are missing
// under got or differ, by SHA-1, from the same file under want.
func treeDifferences(t *testing.T, want, got string, files []string) []string {
	t.Helper()
	var diffs []string
	for _, rel := range files {
		w, err := fileSHA1Hex(filepath.Join(want, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		g, err := fileSHA1Hex(filepath.Join(got, filepath.FromSlash(rel)))
		if err != nil {
			diffs = append(diffs, err.Error())
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%s: SHA-1 %s, want %s", rel, g, w))
		}
	}
	return diffs
}
