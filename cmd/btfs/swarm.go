package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"

	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/metainfo"
	"github.com/urfave/cli/v2"
)

// defaultPort is BitTorrent's customary first port.
const defaultPort = 6881

// Flags shared by the commands that join a swarm.
func swarmFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "port", Value: defaultPort, Usage: "TCP `PORT` for incoming peers (0: any free port; a busy default falls back to any)"},
		&cli.StringFlag{Name: "listen", Value: "", Usage: "listen on this IP `ADDR` only (e.g. 127.0.0.1)"},
		&cli.IntFlag{Name: "max-peers", Value: fetch.DefaultMaxPeers, Usage: "connections per torrent"},
	}
}

// listen opens the peer listener from the --listen and --port flags.
func listen(c *cli.Context, log *slog.Logger) (*fetch.Listener, error) {
	host := c.String("listen")
	port := c.Int("port")
	if port < 0 || port > 65535 {
		return nil, usagef(c, "--port %d is out of range", port)
	}
	ln, err := fetch.Listen(net.JoinHostPort(host, fmt.Sprint(port)), log)
	if errors.Is(err, syscall.EADDRINUSE) && !c.IsSet("port") {
		log.Info("default port busy; using any free port", "port", port)
		ln, err = fetch.Listen(net.JoinHostPort(host, "0"), log)
	}
	if err != nil {
		return nil, fmt.Errorf("listen for peers: %w", err)
	}
	return ln, nil
}

// newTorrent builds the engine for mi over st.
func newTorrent(c *cli.Context, mi *metainfo.MetaInfo, st fetch.Storage, have fetch.CheckResult, ln *fetch.Listener, wantAll bool, log *slog.Logger) *fetch.Torrent {
	return fetch.New(fetch.Config{
		Info: &mi.Info, InfoHash: mi.InfoHash, PeerID: newPeerID(), Storage: st, Have: have.Have,
		WantAll: wantAll, Trackers: mi.Trackers, ListenPort: ln.Port(), MaxPeers: c.Int("max-peers"), Logger: log,
	})
}

// checkStorage verifies what st holds, with a progress bar.
func checkStorage(c *cli.Context, mi *metainfo.MetaInfo, st fetch.Storage) (fetch.CheckResult, error) {
	bar := newProgress(c.App.ErrWriter, int64(mi.Info.NumPieces()), "checking "+mi.Info.Name)
	res, err := fetch.Check(c.Context, &mi.Info, st, func(done, _ int) { bar.Set(int64(done)) })
	bar.Finish()
	return res, err
}

// runAll runs the listener and the torrents until ctx ends, and waits for them.
func runAll(ctx context.Context, ln *fetch.Listener, torrents ...*fetch.Torrent) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, len(torrents)+1)
	go func() { ln.Serve(ctx); done <- struct{}{} }()
	for _, t := range torrents {
		ln.Add(t)
		go func() { t.Run(ctx); done <- struct{}{} }()
	}
	return func() {
		cancel()
		for range len(torrents) + 1 {
			<-done
		}
	}
}
