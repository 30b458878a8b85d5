package main

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/btfs/btfs/internal/testproc"
	"github.com/btfs/btfs/internal/wait"
)

// Interop of the transports (package transport) with libtorrent 2.0 and
// aria2: peers that require encryption (MSE with RC4) are served and serve
// us, both ways. libtorrent runs through scripts/lt-peer.py (Debian's
// python3-libtorrent, which scripts/test.sh installs) with DHT, local peer
// discovery, UPnP and NAT-PMP off; peers meet through opentracker on
// 127.0.0.1, as in interop_swarm_test.go.

// systemPython is Debian's Python, the one python3-libtorrent is built for.
const systemPython = "/usr/bin/python3"

// requireLibtorrent skips the test (fails it with BTFS_REQUIRE_INTEROP)
// when Debian's python3-libtorrent cannot be imported.
func requireLibtorrent(t *testing.T) {
	t.Helper()
	if err := exec.Command(systemPython, "-c", "import libtorrent").Run(); err != nil {
		if os.Getenv("BTFS_REQUIRE_INTEROP") != "" {
			t.Fatalf("python3-libtorrent is not installed (%v); scripts/test.sh installs it", err)
		}
		t.Skipf("python3-libtorrent is not installed (%v); run scripts/test.sh to install it", err)
	}
}

// libtorrent runs scripts/lt-peer.py on dir as a seeder (of the data
// there) or a leecher, with extra options (--enc, --utp-only, ...).
func (s *interopSwarm) libtorrent(dir string, seed bool, extra ...string) *testproc.Proc {
	s.t.Helper()
	return s.libtorrentAt(testproc.FreePort(s.t), dir, seed, extra...)
}

// libtorrentAt is libtorrent listening on port.
func (s *interopSwarm) libtorrentAt(port int, dir string, seed bool, extra ...string) *testproc.Proc {
	s.t.Helper()
	requireLibtorrent(s.t)
	script, err := filepath.Abs("../../scripts/lt-peer.py")
	if err != nil {
		s.t.Fatal(err)
	}
	mode := "leech"
	if seed {
		mode = "seed"
	}
	args := append([]string{script, mode, s.torrent, dir, "--port", strconv.Itoa(port)}, extra...)
	return testproc.Start(s.t, dir, systemPython, args...)
}

// waitLeecher waits for a leecher (libtorrent's or aria2's) to exit
// successfully, and checks what it downloaded into dir.
func (s *interopSwarm) waitLeecher(p *testproc.Proc, dir string) {
	s.t.Helper()
	if err := p.Wait(s.t, interopTransfer); err != nil {
		s.t.Fatalf("leecher: %v\n%s", err, p.Output())
	}
	s.checkFiles(dir)
}

// btfs get downloads from a libtorrent seeder that requires encryption;
// with --encryption off it could not (the seeder hangs up on a plain
// handshake).
func TestInteropGetFromLibtorrentRequiringEncryption(t *testing.T) {
	s := newInteropSwarm(t, "")
	port := testproc.FreePort(t)
	s.libtorrentAt(port, s.src, true, "--enc", "require", "--tcp-only")
	s.waitPeers(1, 0)
	s.checkFiles(s.btfsGet())
	s.checkFiles(s.btfsGet("--encryption", "require"))
	// A magnet link naming the seeder only: the metadata comes over MSE too.
	dir := t.TempDir()
	link := fmt.Sprintf("magnet:?xt=urn:btih:%s&x.pe=127.0.0.1:%d", s.mi.InfoHash, port)
	s.waitGet(testproc.Start(t, dir, btfsBin, "-v", "get", "--no-dht", "-o", dir, "--listen", "127.0.0.1", "--port", "0", link))
	s.checkFiles(dir)
}

// libtorrent requiring encryption downloads from btfs seed --encryption
// require.
func TestInteropLibtorrentFromSeedRequiringEncryption(t *testing.T) {
	s := newInteropSwarm(t, "")
	s.btfsSeed("--encryption", "require")
	s.waitPeers(1, 0)
	dir := t.TempDir()
	s.waitLeecher(s.libtorrent(dir, false, "--enc", "require", "--tcp-only"), dir)
}

// aria2 with --bt-require-crypto both ways.
func TestInteropAria2RequiringEncryption(t *testing.T) {
	crypto := []string{"--bt-require-crypto=true", "--bt-min-crypto-level=arc4"}
	t.Run("get from aria2", func(t *testing.T) {
		s := newInteropSwarm(t, "")
		s.aria2(s.src, true, crypto...)
		s.waitPeers(1, 0)
		s.checkFiles(s.btfsGet())
	})
	t.Run("aria2 from seed", func(t *testing.T) {
		s := newInteropSwarm(t, "")
		s.btfsSeed("--encryption", "require")
		s.waitPeers(1, 0)
		dir := t.TempDir()
		s.waitLeecher(s.aria2(dir, false, crypto...), dir)
	})
}

// A mount reads exact bytes (sha1sum through it) from a libtorrent seeder
// that requires encryption.
func TestInteropMountFromLibtorrentRequiringEncryption(t *testing.T) {
	requireFUSE(t)
	testproc.RequireTool(t, "fusermount3")
	s := newInteropSwarm(t, "")
	s.libtorrent(s.src, true, "--enc", "require", "--tcp-only")
	s.waitPeers(1, 0)
	s.mountAndSum()
}

// mountAndSum mounts the swarm's torrent and compares sha1sum of every
// file through the mount with the source's; extra flags go to btfs mount.
func (s *interopSwarm) mountAndSum(extra ...string) {
	t := s.t
	t.Helper()
	mnt := t.TempDir()
	args := append([]string{"mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0", "--cache-dir", t.TempDir()}, extra...)
	mount := testproc.Start(t, t.TempDir(), btfsBin, append(args, s.torrent, mnt)...)
	wait.For(t, "btfs mount to mount", interopStartup, func() bool {
		select {
		case <-mount.Done():
			t.Fatalf("btfs mount exited: %v\n%s", mount.Err(), mount.Output())
		default:
		}
		return strings.Contains(mount.Output(), "msg=mounted")
	})
	t.Cleanup(func() { exec.Command(btfsBin, "unmount", mnt).Run() })
	files := slices.Sorted(maps.Keys(interopFiles))
	root := filepath.Join(mnt, s.mi.Info.Name)
	if got, want := sha1sum(t, root, files), sha1sum(t, filepath.Join(s.src, "content"), files); got != want {
		t.Fatalf("sha1sum through the mount:\n%s\nof the source files:\n%s", got, want)
	}
}
