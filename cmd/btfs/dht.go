package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/btfs/btfs/dht"
	"github.com/btfs/btfs/fetch"
	"github.com/urfave/cli/v2"
)

// The DHT (BEP 5). mount, get and seed (and info, for a magnet link) run
// one DHT node per process, shared by its torrents and by a magnet link's
// metadata search, unless --no-dht:
//
//   - Port: UDP, on the IP of --listen and the port number of the TCP peer
//     listener, as other clients do (peers learn it from PORT messages);
//     when that UDP port is taken, any free one.
//   - Routing table: saved (every few minutes and at exit) so that the next
//     run rejoins through the nodes it knew rather than the bootstrap
//     routers, under the same node ID. A file is one process's, so where it
//     lives follows what the process holds alone: a command with a cache
//     (mount, seed --from-cache) keeps CACHE-DIR/dht.state, as one process
//     uses a cache directory at a time; get and seed keep
//     dht-PORT.state in the cache directory (--cache-dir, get: the default),
//     named after the UDP port, which one process holds at a time too, and
//     keep none when the OS chose the port (a file per run would pile up);
//     info keeps none.
//   - Private torrents never use it (the engine checks, fetch.Config.DHT).

// dhtHelp ends the help of the commands that join a swarm.
const dhtHelp = "The DHT (BEP 5) finds peers without a tracker: one node per process, on UDP at the peer port's\n" +
	"number (any free port if that one is taken), joined through --dht-bootstrap; its routing table is\n" +
	"kept in the cache directory for the next run. --no-dht turns it off. Connected peers also tell each\n" +
	"other of peers (PEX, BEP 11). Private torrents use neither: their trackers only."

// Compile-time check: the engine takes a *dht.Node as its DHT.
var _ fetch.DHT = (*dht.Node)(nil)

// dhtFlags are the DHT's flags, on every command that joins a swarm.
func dhtFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "no-dht", Usage: "do not use the DHT: peers come from trackers, the magnet link's peers and PEX only"},
		&cli.StringFlag{Name: "dht-bootstrap", Value: strings.Join(dht.DefaultBootstrap, ","),
			Usage: "join the DHT through these `HOST:PORT,...` nodes (when the saved routing table has no node that answers)"},
	}
}

// dhtBootstrap returns the nodes of --dht-bootstrap, each checked to be
// host:port; an empty flag gives none.
func dhtBootstrap(c *cli.Context) ([]string, error) {
	var out []string
	for _, hp := range strings.Split(c.String("dht-bootstrap"), ",") {
		if hp = strings.TrimSpace(hp); hp == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(hp); err != nil || port == "" {
			return nil, usagef(c, "--dht-bootstrap: %q is not HOST:PORT", hp)
		}
		out = append(out, hp)
	}
	return out, nil
}

// dhtStateFile names the routing table's file for the UDP port a node
// asks for (0: any); "" keeps none.
type dhtStateFile func(port int) string

// cacheState keeps the routing table in the cache directory of a process
// that holds the cache.
func cacheState(dir string) dhtStateFile {
	return func(int) string { return filepath.Join(dir, "dht.state") }
}

// portState keeps the routing table in dir, one file per UDP port, when
// the port is the one --port names (not one the OS chose).
func portState(c *cli.Context, dir string) dhtStateFile {
	return func(port int) string {
		if port == 0 || port != c.Int("port") {
			return ""
		}
		return filepath.Join(dir, fmt.Sprintf("dht-%d.state", port))
	}
}

// noState keeps no routing table.
func noState(int) string { return "" }

// openDHT starts the process's DHT node on the port number tcpPort (see
// above), or returns nil with --no-dht. The caller closes it with
// closeDHT once the torrents have stopped.
func openDHT(c *cli.Context, log *slog.Logger, tcpPort int, state dhtStateFile) (*dht.Node, error) {
	if c.Bool("no-dht") {
		return nil, nil
	}
	boot, err := dhtBootstrap(c)
	if err != nil {
		return nil, err
	}
	open := func(port int) (*dht.Node, error) {
		file := state(port)
		if file != "" {
			if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
				log.Warn("dht: the routing table will not be kept", "err", err)
				file = ""
			}
		}
		return dht.Open(c.Context, dht.Config{
			Listen: net.JoinHostPort(c.String("listen"), strconv.Itoa(port)), Bootstrap: boot, StateFile: file, Logger: log,
		})
	}
	node, err := open(tcpPort)
	if errors.Is(err, syscall.EADDRINUSE) && tcpPort != 0 {
		log.Info("dht: UDP port busy; using any free port", "port", tcpPort)
		node, err = open(0)
	}
	if err != nil {
		return nil, fmt.Errorf("start the DHT (--no-dht goes without): %w", err)
	}
	log.Debug("dht: node started", "addr", node.Addr(), "state", state(int(node.Addr().Port())), "bootstrap", boot)
	return node, nil
}

// closeDHT closes the node, if there is one.
func closeDHT(n *dht.Node) {
	if n != nil {
		n.Close()
	}
}
