package main

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/tracker"
)

// Interop of the swarm engine with the clients people run: btfs get
// downloads from aria2 and Transmission seeders, and both download from btfs
// seed, through Debian's opentracker, everything on 127.0.0.1. DHT, local
// peer discovery, PEX, uTP and port mapping are off in every client, so
// peers meet only through the tracker and nothing leaves the machine.

// Deadlines. Each transfer is a few MiB over loopback: aria2 and btfs take a
// second or two (btfs is built with -race here); Transmission unchokes a new
// peer only at its next 10-second choke round and then ramps its upload up,
// so it gets more.
const (
	interopTransfer = 60 * time.Second
	interopStartup  = 15 * time.Second
)

// interopFiles is the content of the multi-file torrent each test makes (of
// its own random bytes): files end inside pieces, and one is smaller than a
// block.
var interopFiles = map[string]int64{
	"movie.mkv":            9<<20 + 12345,
	"extras/making-of.mp4": 3<<20 + 777,
	"extras/sub/notes.txt": 1000,
	"cover.jpg":            70000,
}

// interopSwarm is one torrent of random content, made by btfs create, and
// an opentracker that serves it.
type interopSwarm struct {
	t        *testing.T
	src      string // data directory: the content is src/NAME/...
	torrent  string // the .torrent file
	mi       *metainfo.MetaInfo
	announce string
}

func newInteropSwarm(t *testing.T, pieceLength string) *interopSwarm {
	t.Helper()
	ot := requireTool(t, "opentracker")
	// A proxy set in the environment must not see (or break) the clients'
	// requests to the tracker on 127.0.0.1: aria2 and Transmission use it.
	for _, k := range []string{"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"} {
		t.Setenv(k, "") // restored when the test ends
		os.Unsetenv(k)
	}
	s := &interopSwarm{t: t, src: t.TempDir()}
	root := filepath.Join(s.src, "content")
	rng := rand.NewChaCha8(sha256.Sum256([]byte(t.Name()))) // each test its own content
	for rel, size := range interopFiles {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.CopyN(f, rng, size)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	// opentracker chroots into its directory and drops root for "nobody"
	// when run as root, so the directory and the whitelist must be
	// readable by anyone; without -P it opens no UDP socket.
	otDir := t.TempDir()
	if err := os.Chmod(otDir, 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	s.announce = fmt.Sprintf("http://127.0.0.1:%d/announce", port)
	s.torrent = filepath.Join(t.TempDir(), "content.torrent")
	args := []string{"create", "-t", s.announce, "-o", s.torrent}
	if pieceLength != "" {
		args = append(args, "-l", pieceLength)
	}
	if code, _, stderr := btfs(t, append(args, root)...); code != exitOK {
		t.Fatalf("btfs create: %s", stderr)
	}
	mi, err := metainfo.Load(s.torrent)
	if err != nil {
		t.Fatal(err)
	}
	s.mi = mi
	// Debian builds opentracker with a whitelist: it refuses every
	// info-hash its access list does not name.
	if err := os.WriteFile(filepath.Join(otDir, "whitelist"), []byte(mi.InfoHash.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	startProc(t, otDir, ot, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-d", otDir, "-w", "whitelist", "-u", "nobody")
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", port))
	// The whitelist is read by a thread of its own after the port opens:
	// wait until an announce of our torrent is accepted. A "stopped" one
	// leaves no peer behind.
	client := tracker.NewClient(tracker.ClientOptions{})
	waitFor(t, "opentracker to accept the torrent", interopStartup, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := client.Announce(ctx, s.announce, tracker.AnnounceRequest{
			InfoHash: mi.InfoHash, PeerID: [20]byte{'-', 'P', 'R', 'O', 'B', 'E', '-'}, Port: 1, Event: tracker.EventStopped,
		})
		return err == nil
	})
	return s
}

// waitPeers waits until opentracker counts at least seeders and leechers
// for the torrent: a client has started and announced.
func (s *interopSwarm) waitPeers(seeders, leechers int) {
	s.t.Helper()
	client := tracker.NewClient(tracker.ClientOptions{})
	waitFor(s.t, fmt.Sprintf("%d seeder(s) and %d leecher(s) at the tracker", seeders, leechers), interopStartup, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := client.Scrape(ctx, s.announce, []metainfo.Hash{s.mi.InfoHash})
		got := st[s.mi.InfoHash]
		return err == nil && got.Seeders >= seeders && got.Leechers >= leechers
	})
}

// checkFiles compares, by SHA-1, each file under dir (a data directory
// holding content/...) with the original.
func (s *interopSwarm) checkFiles(dir string) {
	s.t.Helper()
	for _, d := range s.differences(dir) {
		s.t.Error(d)
	}
}

// differences lists the files under dir that are missing or differ from
// the original.
func (s *interopSwarm) differences(dir string) []string {
	var diffs []string
	for _, rel := range slices.Sorted(maps.Keys(interopFiles)) {
		want, err := fileSHA1Hex(filepath.Join(s.src, "content", rel))
		if err != nil {
			s.t.Fatal(err)
		}
		got, err := fileSHA1Hex(filepath.Join(dir, "content", rel))
		if err != nil {
			diffs = append(diffs, err.Error())
		} else if got != want {
			diffs = append(diffs, fmt.Sprintf("%s: SHA-1 %s, want %s", rel, got, want))
		}
	}
	return diffs
}

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

// start runs a process until the test ends (startProc). With
// BTFS_INTEROP_LOG set, its output is logged even when the test passes: how
// to see what the clients said to each other.
func (s *interopSwarm) start(dir, name string, args ...string) *proc {
	s.t.Helper()
	p := startProc(s.t, dir, name, args...)
	if os.Getenv("BTFS_INTEROP_LOG") != "" {
		s.t.Cleanup(func() { s.t.Logf("output of %s %q:\n%s", p.name, args, p.Output()) })
	}
	return p
}

// btfsSeed serves the original content until the test ends.
func (s *interopSwarm) btfsSeed() *proc {
	s.t.Helper()
	return s.start(s.src, btfsBin, "-v", "seed", "-d", s.src, "--listen", "127.0.0.1", "--port", "0", s.torrent)
}

// btfsGet downloads into a new directory and returns it once btfs get has
// exited successfully.
func (s *interopSwarm) btfsGet() string {
	s.t.Helper()
	dir := s.t.TempDir()
	s.waitGet(s.startGet(dir))
	return dir
}

func (s *interopSwarm) startGet(dir string) *proc {
	s.t.Helper()
	return s.start(dir, btfsBin, "-v", "get", "-o", dir, "--listen", "127.0.0.1", "--port", "0", s.torrent)
}

// waitGet waits for btfs get to exit, successfully.
func (s *interopSwarm) waitGet(p *proc) {
	s.t.Helper()
	if err := p.wait(s.t, interopTransfer); err != nil {
		s.t.Fatalf("btfs get: %v\n%s", err, p.Output())
	}
	if !strings.Contains(p.Output(), "complete") {
		s.t.Fatalf("btfs get exited without saying it completed:\n%s", p.Output())
	}
}

// aria2 runs aria2c on dir: as a seeder of the data there (checked first),
// or as a leecher that exits once it has everything. extra options go last.
func (s *interopSwarm) aria2(dir string, seed bool, extra ...string) *proc {
	s.t.Helper()
	bin := requireTool(s.t, "aria2c")
	args := []string{
		"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
		"--disable-ipv6=true", "--interface=127.0.0.1", "--listen-port=" + strconv.Itoa(freePort(s.t)),
		"--dir=" + dir, "--file-allocation=none", "--summary-interval=0", "--enable-color=false",
		"--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=5", "--console-log-level=notice",
	}
	if seed {
		// Verify the data, then seed until interrupted (ratio 0: no limit).
		args = append(args, "--check-integrity=true", "--seed-ratio=0.0")
	} else {
		// Exit as soon as the download is complete; give up on a stall.
		args = append(args, "--seed-time=0", "--bt-stop-timeout=45")
	}
	args = append(args, extra...)
	return s.start(dir, bin, append(args, s.torrent)...)
}

// transmission runs transmission-cli on dir with a configuration of its own
// that keeps it on loopback: no DHT, LPD, PEX, uTP, port mapping, RPC or
// blocklist updates, listening on 127.0.0.1 (and ::1) only. A seeder
// verifies the data first (-v): Transmission trusts nothing it did not check.
func (s *interopSwarm) transmission(dir string, seed bool) *proc {
	s.t.Helper()
	bin := requireTool(s.t, "transmission-cli")
	cfg := s.t.TempDir()
	port := freePort(s.t)
	settings := map[string]any{
		"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
		"port-forwarding-enabled": false, "rpc-enabled": false, "blocklist-enabled": false,
		"bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
		"peer-port": port, "peer-port-random-on-start": false,
		"speed-limit-up-enabled": false, "speed-limit-down-enabled": false,
		"ratio-limit-enabled": false, "idle-seeding-limit-enabled": false,
		"message-level": 2,
	}
	b, err := json.Marshal(settings)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "settings.json"), b, 0o644); err != nil {
		s.t.Fatal(err)
	}
	// Encryption stays at Transmission's default, "preferred", as users run
	// it: btfs does not speak MSE, and Transmission takes its plain
	// handshake.
	args := []string{"-g", cfg, "-w", dir, "-p", strconv.Itoa(port), "-M"}
	if seed {
		args = append(args, "-v")
	}
	return s.start(dir, bin, append(args, s.torrent)...)
}

// btfs get downloads from an aria2 seeder (which btfs connects to).
func TestInteropGetFromAria2(t *testing.T) {
	s := newInteropSwarm(t, "") // btfs create's choice: 16 KiB pieces, ~800 of them
	s.aria2(s.src, true)
	s.waitPeers(1, 0)
	s.checkFiles(s.btfsGet())
}

// btfs get downloads from a Transmission seeder.
func TestInteropGetFromTransmission(t *testing.T) {
	s := newInteropSwarm(t, "256KiB")
	s.transmission(s.src, true)
	s.waitPeers(1, 0)
	s.checkFiles(s.btfsGet())
}

// aria2 downloads from btfs seed: it connects to us, first trying an
// encrypted handshake (which we refuse), then a plain one; it sends its
// bitfield after its first HAVEs.
func TestInteropAria2FromSeed(t *testing.T) {
	s := newInteropSwarm(t, "")
	s.btfsSeed()
	s.waitPeers(1, 0)
	dir := t.TempDir()
	p := s.aria2(dir, false)
	if err := p.wait(t, interopTransfer); err != nil {
		t.Fatalf("aria2c: %v\n%s", err, p.Output())
	}
	s.checkFiles(dir)
}

// Transmission downloads from btfs seed. Transmission never connects to
// peers on 127.0.0.0/8 that a tracker names (it calls them "martian"), but it
// accepts connections from them: so it starts first, and btfs seed, hearing
// of it in its first announce, connects to it.
func TestInteropTransmissionFromSeed(t *testing.T) {
	s := newInteropSwarm(t, "64KiB")
	dir := t.TempDir()
	tr := s.transmission(dir, false)
	s.waitPeers(0, 1)
	s.btfsSeed()
	waitFor(t, "transmission-cli to complete", interopTransfer, func() bool {
		return strings.Contains(tr.Output(), "Seeding")
	})
	// Transmission writes through a cache of its own: give it a moment to
	// flush what it verified before the files are judged.
	waitFor(t, "transmission-cli's files to match", interopStartup, func() bool {
		return len(s.differences(dir)) == 0
	})
}

// btfs get and an aria2 leecher download at the same time from an aria2
// seeder slow enough that they must trade: each serves the other what it got
// first (btfs uploading while it downloads, to a peer that may have connected
// to it, under tit-for-tat choking). aria2's log shows blocks from a peer
// other than the seeder: they can only come from btfs get.
func TestInteropTradeWithAria2(t *testing.T) {
	s := newInteropSwarm(t, "")
	s.aria2(s.src, true, "--max-upload-limit=2M")
	s.waitPeers(1, 0)
	getDir, ariaDir := t.TempDir(), t.TempDir()
	ariaLog := filepath.Join(t.TempDir(), "aria2.log")
	get := s.startGet(getDir)
	aria := s.aria2(ariaDir, false, "-l", ariaLog, "--log-level=info")
	s.waitGet(get)
	if err := aria.wait(t, interopTransfer); err != nil {
		t.Fatalf("aria2c: %v\n%s", err, aria.Output())
	}
	s.checkFiles(getDir)
	s.checkFiles(ariaDir)

	log, err := os.ReadFile(ariaLog)
	if err != nil {
		t.Fatal(err)
	}
	from := map[string]int{} // blocks received, by peer address
	for _, line := range strings.Split(string(log), "\n") {
		if _, rest, ok := strings.Cut(line, " - From: "); ok {
			if addr, msg, ok := strings.Cut(rest, " "); ok && strings.HasPrefix(msg, "piece ") {
				from[addr]++
			}
		}
	}
	if len(from) < 2 {
		t.Fatalf("aria2c received blocks only from %v: btfs get never uploaded to it", from)
	}
	t.Logf("blocks aria2c received, by peer: %v", from)
}
