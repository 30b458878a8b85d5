package main

import (
	"context"
	"fmt"
	"github.com/btfs/btfs/internal/wait"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/dht"
	"github.com/btfs/btfs/internal/testproc"
)

// startDHTNetwork runs size DHT nodes on 127.0.0.1 in the test process,
// each joining through the ones before it, and returns their addresses
// (host:port) for --dht-bootstrap. They are closed when the test ends. The
// nodes hear only of each other and of the btfs processes the test points
// at them, all on loopback.
func startDHTNetwork(t *testing.T, size int) ([]*dht.Node, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var nodes []*dht.Node
	var addrs []string
	for range size {
		n, err := dht.Open(ctx, dht.Config{
			Listen: "127.0.0.1:0", Bootstrap: slices.Clone(addrs), QueryTimeout: 500 * time.Millisecond,
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		nodes, addrs = append(nodes, n), append(addrs, n.Addr().String())
	}
	return nodes, strings.Join(addrs, ",")
}

// A torrent with no tracker, found through the DHT alone: btfs seed joins a
// loopback DHT and announces it; btfs mount of the bare magnet link (no tr,
// no x.pe) finds the seeder there, fetches the metadata from it and reads
// every file as the source (SHA-1); so do btfs get and btfs info. The seeder's DHT node shares its TCP
// port's number, and each process keeps its routing table where the
// README says: the mount in its cache directory, get and seed in
// dht-PORT.state of theirs.
func TestDHTMagnetMount(t *testing.T) {
	t.Parallel()
	requireFUSE(t)
	nodes, bootstrap := startDHTNetwork(t, 3)
	s := startMagnetSwarm(t, false, false) // the content and a torrent with no tracker
	if len(s.mi.Trackers) != 0 {
		t.Fatalf("the torrent names trackers %v", s.mi.Trackers)
	}
	// XDG_CACHE_HOME: the default cache directory, where a routing table
	// could otherwise come from (and go to), is the test's own.
	home := filepath.Join(s.work, "xdg-cache")
	env := []string{"XDG_CACHE_HOME=" + home}
	seedPort := testproc.FreePort(t)
	seedCache := filepath.Join(s.work, "seed-cache")
	s.seedAddr = fmt.Sprintf("127.0.0.1:%d", seedPort)
	s.seeder = testproc.StartEnv(t, env, s.work, btfsBin, "-v", "seed", "--dht-bootstrap", bootstrap, "--cache-dir", seedCache,
		"--listen", "127.0.0.1", "--port", fmt.Sprint(seedPort), "-d", s.src, filepath.Join(s.work, "show.torrent"))
	s.seeder.WaitListening(t, s.seedAddr, 20*time.Second)

	// The seeder announced its TCP port, and its DHT node answers on the
	// same port number.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seedAP := netip.MustParseAddrPort(s.seedAddr)
	wait.For(t, "the seeder's announce to reach the DHT", 30*time.Second, func() bool {
		var found []netip.AddrPort
		nodes[0].Lookup(ctx, s.mi.InfoHash, 0, func(ps []netip.AddrPort) { found = append(found, ps...) })
		return slices.Contains(found, seedAP)
	})
	// A node drops replies past its send rate (the lookups above used some
	// of it): one unanswered ping is no failure, a node that never answers is.
	wait.For(t, fmt.Sprintf("the seeder's DHT node on UDP %v to answer a ping", seedAP), 30*time.Second, func() bool {
		return nodes[1].Ping(ctx, seedAP) == nil
	})

	mnt, cacheDir := filepath.Join(s.work, "mnt"), filepath.Join(s.work, "cache")
	os.Mkdir(mnt, 0o755)
	link := "magnet:?xt=urn:btih:" + s.mi.InfoHash.String()
	mount := testproc.StartEnv(t, env, s.work, btfsBin, "-v", "mount", "--dht-bootstrap", bootstrap, "--listen", "127.0.0.1",
		"--port", "0", "--cache-dir", cacheDir, link, mnt)
	wait.For(t, "the files to appear", 60*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(mnt, "show", "notes.txt"))
		return err == nil
	})
	s.checkFiles(t, filepath.Join(mnt, "show"))

	// get finds the seeder the same way, while the mount runs: a DHT node
	// per process.
	out := filepath.Join(s.work, "get")
	getPort := testproc.FreePort(t)
	get := testproc.StartEnv(t, env, s.work, btfsBin, "get", "--dht-bootstrap", bootstrap, "--listen", "127.0.0.1",
		"--port", fmt.Sprint(getPort), "-o", out, link)
	if err := get.Wait(t, 60*time.Second); err != nil {
		t.Fatalf("get of the bare magnet link: %v\n%s", err, get.Output())
	}
	s.checkFiles(t, filepath.Join(out, "show"))
	if code, stdout, stderr := runBtfs(t, 60*time.Second, "info", "--json", "--dht-bootstrap", bootstrap, link); code != exitOK ||
		!strings.Contains(stdout, `"name": "show"`) {
		t.Fatalf("info of the bare magnet link: exit %d\n%s%s", code, stdout, stderr)
	}
	unmountAndWait(t, mnt, mount)

	for _, f := range []string{
		filepath.Join(cacheDir, "dht.state"),
		filepath.Join(home, "btfs", fmt.Sprintf("dht-%d.state", getPort)),
	} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("routing table: %v", err)
		}
	}
	s.seeder.Stop()
	if _, err := os.Stat(filepath.Join(seedCache, fmt.Sprintf("dht-%d.state", seedPort))); err != nil {
		t.Errorf("the seeder's routing table: %v", err)
	}
	if out := mount.Output(); !strings.Contains(out, "dht=true") {
		t.Errorf("the mount's log does not say it used the DHT:\n%s", out)
	}
}
