package main

import (
	"crypto/sha256"
	"fmt"
	"github.com/btfs/btfs/internal/testproc"
	"github.com/btfs/btfs/internal/wait"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/tracker"
)

// Interop of the swarm engine with the clients people run: btfs get
// downloads from aria2 and Transmission seeders, and both download from btfs
// seed, through Debian's opentracker, everything on 127.0.0.1. DHT, local
// peer discovery, PEX, uTP and port mapping are off in every client, so
// peers meet only through the tracker and nothing leaves the machine.

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
	src      string // data directory: the content is src/content/...
	torrent  string // the .torrent file
	mi       *metainfo.MetaInfo
	announce string
}

func newInteropSwarm(t *testing.T, pieceLength string) *interopSwarm {
	t.Helper()
	testproc.RequireTool(t, "opentracker")
	clearProxies(t)
	s := &interopSwarm{t: t, src: t.TempDir()}
	root := filepath.Join(s.src, "content")
	writeRandomTree(t, root, interopFiles, sha256.Sum256([]byte(t.Name()))) // each test its own content

	port := testproc.FreePort(t)
	s.announce = fmt.Sprintf("http://127.0.0.1:%d/announce", port)
	s.torrent = filepath.Join(t.TempDir(), "content.torrent")
	args := []string{"-t", s.announce}
	if pieceLength != "" {
		args = append(args, "-l", pieceLength)
	}
	s.mi = createTorrent(t, s.torrent, append(args, root)...)
	startOpentracker(t, port, s.mi.InfoHash)
	return s
}

// waitPeers waits until opentracker counts at least seeders and leechers
// for the torrent: a client has started and announced.
func (s *interopSwarm) waitPeers(seeders, leechers int) {
	s.t.Helper()
	waitScrape(s.t, s.announce, s.mi.InfoHash, fmt.Sprintf("%d seeder(s) and %d leecher(s) at the tracker", seeders, leechers),
		interopStartup, func(st tracker.ScrapeStats) bool { return st.Seeders >= seeders && st.Leechers >= leechers })
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
	s.t.Helper()
	return treeDifferences(s.t, filepath.Join(s.src, "content"), filepath.Join(dir, "content"), slices.Sorted(maps.Keys(interopFiles)))
}

// btfsSeed serves the original content until the test ends; extra flags
// go before the torrent.
func (s *interopSwarm) btfsSeed(extra ...string) *testproc.Proc {
	s.t.Helper()
	args := append([]string{"-v", "seed", "--no-dht", "-d", s.src, "--listen", "127.0.0.1", "--port", "0"}, extra...)
	return testproc.Start(s.t, s.src, btfsBin, append(args, s.torrent)...)
}

// btfsGet downloads into a new directory and returns it once btfs get has
// exited successfully.
// extra flags go before the torrent.
func (s *interopSwarm) btfsGet(extra ...string) string {
	s.t.Helper()
	dir := s.t.TempDir()
	s.waitGet(s.startGet(dir, extra...))
	return dir
}

func (s *interopSwarm) startGet(dir string, extra ...string) *testproc.Proc {
	s.t.Helper()
	args := append([]string{"-v", "get", "--no-dht", "-o", dir, "--listen", "127.0.0.1", "--port", "0"}, extra...)
	return testproc.Start(s.t, dir, btfsBin, append(args, s.torrent)...)
}

// waitGet waits for btfs get to exit, successfully.
func (s *interopSwarm) waitGet(p *testproc.Proc) {
	s.t.Helper()
	if err := p.Wait(s.t, interopTransfer); err != nil {
		s.t.Fatalf("btfs get: %v\n%s", err, p.Output())
	}
	if !strings.Contains(p.Output(), "complete") {
		s.t.Fatalf("btfs get exited without saying it completed:\n%s", p.Output())
	}
}

// aria2 runs aria2c on dir: as a seeder of the data there (checked first),
// or as a leecher that exits once it has everything, or gives up on a
// stall. extra options go last.
func (s *interopSwarm) aria2(dir string, seed bool, extra ...string) *testproc.Proc {
	s.t.Helper()
	part := []string{"--seed-time=0", "--bt-stop-timeout=45"}
	if seed {
		part = aria2Seed
	}
	return startAria2(s.t, s.torrent, dir, append(slices.Clone(part), extra...)...)
}

// transmission runs transmission-cli on dir, as a seeder of the data there
// or as a leecher.
func (s *interopSwarm) transmission(dir string, seed bool) *testproc.Proc {
	s.t.Helper()
	return startTransmission(s.t, s.torrent, dir, testproc.FreePort(s.t), seed)
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
	seedTransmission(t, s.torrent, s.src, testproc.FreePort(t), s.announce, s.mi.InfoHash)
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
	if err := p.Wait(t, interopTransfer); err != nil {
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
	wait.For(t, "transmission-cli to complete", interopTransfer, func() bool {
		return strings.Contains(tr.Output(), "Seeding")
	})
	// Transmission writes through a cache of its own: give it a moment to
	// flush what it verified before the files are judged.
	wait.For(t, "transmission-cli's files to match", interopStartup, func() bool {
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
	if err := aria.Wait(t, interopTransfer); err != nil {
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
