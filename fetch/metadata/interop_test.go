package metadata

// Interop with aria2c, both ways: Fetch takes the metadata from an aria2c
// seeder given by address, and aria2c, given a magnet link, takes it from a
// peer answering with Serve. Everything stays on 127.0.0.1: aria2c runs with
// no configuration file, DHT, local peer discovery, peer exchange or IPv6.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/leakcheck"
	"github.com/btfs/btfs/internal/testproc"
	"github.com/btfs/btfs/metainfo"
)

// interopTimeout bounds each wait on aria2c: it checks a few hundred KiB
// and answers on loopback in well under a second.
const interopTimeout = 30 * time.Second

// startAria2 runs aria2c in dir until the test ends, with args after the
// options that keep it on loopback.
func startAria2(t *testing.T, dir string, args ...string) *testproc.Proc {
	t.Helper()
	bin := testproc.RequireTool(t, "aria2c")
	base := []string{
		"--no-conf", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
		"--disable-ipv6=true", "--interface=127.0.0.1", "--dir=" + dir, "--file-allocation=none",
		"--summary-interval=0", "--enable-color=false", "--console-log-level=notice",
		"--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=5",
	}
	return testproc.Start(t, dir, bin, append(base, args...)...)
}

// makeTorrent writes a multi-file tree of 300 files with long names (their
// list makes the metadata three BEP 9 pieces long) and its torrent.
func makeTorrent(t *testing.T, dir string, trackers [][]string) (*metainfo.MetaInfo, string) {
	t.Helper()
	root := filepath.Join(dir, "content")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		name := fmt.Sprintf("file-%03d-%s.bin", i, strings.Repeat("n", 90))
		if err := os.WriteFile(filepath.Join(root, name), bytes.Repeat([]byte{byte(i)}, 1000+i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mi, err := metainfo.Create(context.Background(), root, metainfo.CreateOptions{PieceLength: 16 << 10, Trackers: trackers})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(mi.InfoBytes); n < 2*16<<10 {
		t.Fatalf("metadata of %d bytes: the test wants three pieces", n)
	}
	data, err := mi.Encode()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "content.torrent")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return mi, path
}

// TestFetchFromAria2: aria2c seeds a torrent; Fetch, given only its address,
// gets the info dictionary from it.
func TestFetchFromAria2(t *testing.T) {
	leakcheck.Check(t, "btfs/btfs/fetch/metadata.")
	testproc.RequireTool(t, "aria2c")
	dir := t.TempDir()
	// A tracker that refuses connections: aria2c wants one to announce to,
	// and Fetch does not need it.
	mi, torrent := makeTorrent(t, dir, [][]string{{"http://127.0.0.1:1/announce"}})
	port := testproc.FreePort(t)
	a := startAria2(t, dir, "--listen-port="+strconv.Itoa(port), "--check-integrity=true", "--seed-ratio=0.0", torrent)
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	a.WaitListening(t, addr.String(), interopTimeout)

	log, rec := newLogger()
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	ch := make(chan netip.AddrPort, 1)
	ch <- addr
	close(ch)
	got, err := Fetch(ctx, mi.InfoHash, ch, Options{Log: log})
	if err != nil {
		t.Fatalf("%v (dropped: %q)", err, rec.why(addr))
	}
	if !bytes.Equal(got.InfoBytes, mi.InfoBytes) || got.Info.Name != "content" || len(got.Info.Files) != 300 {
		t.Fatalf("got %q with %d files and %d bytes of info; want content, 300, %d", got.Info.Name, len(got.Info.Files), len(got.InfoBytes), len(mi.InfoBytes))
	}
}

// TestAria2FetchesFromServe: aria2c, given a magnet link, finds a peer
// answering with Serve through a one-line tracker and saves the torrent it
// builds from the metadata: the same info dictionary.
func TestAria2FetchesFromServe(t *testing.T) {
	leakcheck.Check(t, "btfs/btfs/fetch/metadata.")
	testproc.RequireTool(t, "aria2c")
	dir := t.TempDir()
	mi, _ := makeTorrent(t, dir, nil)
	peer := startPeer(t, peerSpec{info: mi.InfoBytes, noBitfield: true})
	// The tracker answers every announce with the peer.
	ip := peer.addr.Addr().As4()
	compact := append(ip[:], byte(peer.addr.Port()>>8), byte(peer.addr.Port()))
	tr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "d8:intervali60e5:peers6:%se", compact)
	}))
	t.Cleanup(tr.Close)

	out := t.TempDir()
	link := "magnet:?xt=urn:btih:" + mi.InfoHash.String() + "&tr=" + tr.URL + "/announce"
	a := startAria2(t, out, "--listen-port="+strconv.Itoa(testproc.FreePort(t)), "--bt-metadata-only=true", "--bt-save-metadata=true", link)
	if err := a.Wait(t, interopTimeout); err != nil {
		t.Fatalf("aria2c: %v", err)
	}
	saved, err := metainfo.Load(filepath.Join(out, mi.InfoHash.String()+".torrent"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(saved.InfoBytes, mi.InfoBytes) {
		t.Fatalf("aria2c saved %d bytes of info, want the %d served", len(saved.InfoBytes), len(mi.InfoBytes))
	}
	if n := peer.requests.Load(); n < 3 {
		t.Fatalf("the peer answered %d requests, want one per piece (3)", n)
	}
}
