package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"

	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/internal/bitfield"
	"github.com/btfs/btfs/internal/bytesize"
	"github.com/btfs/btfs/metainfo"
	"github.com/urfave/cli/v2"
	"golang.org/x/time/rate"
)

// defaultPort is BitTorrent's customary first port.
const defaultPort = 6881

// Flags shared by the commands that join a swarm.
func swarmFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.IntFlag{Name: "port", Value: defaultPort, Usage: "TCP `PORT` for incoming peers (0: any free port; a busy default falls back to any)"},
		&cli.StringFlag{Name: "listen", Value: "", Usage: "listen on this IP `ADDR` only (e.g. 127.0.0.1)"},
		&cli.IntFlag{Name: "max-peers", Value: fetch.DefaultMaxPeers, Usage: "connections per torrent"},
		&cli.StringFlag{Name: "max-download-rate", Value: "0", Usage: "download at most `SIZE` per second in all (1MiB, 500K; 0: no limit)"},
		&cli.StringFlag{Name: "max-upload-rate", Value: "0", Usage: "upload at most `SIZE` per second in all (0: no limit)"},
	}, append(transportFlags(), dhtFlags()...)...)
}

// swarmConfig is the part of fetch.Config that every torrent of a command
// shares: our identity, the limits (one for all torrents); the DHT node is
// added once it runs (withDHT). Commands call it before any slow work, so
// that a bad flag is reported at once.
func swarmConfig(c *cli.Context, log *slog.Logger) (fetch.Config, error) {
	cfg := fetch.Config{PeerID: newPeerID(), MaxPeers: c.Int("max-peers"), Logger: log}
	if _, err := dhtBootstrap(c); err != nil {
		return cfg, err
	}
	dial, err := peerDialer(c)
	if err != nil {
		return cfg, err
	}
	cfg.Dial = dial
	for _, l := range []struct {
		flag string
		dst  **rate.Limiter
	}{{"max-download-rate", &cfg.DownloadLimit}, {"max-upload-rate", &cfg.UploadLimit}} {
		n, err := bytesize.Parse(c.String(l.flag))
		if err != nil {
			return cfg, usagef(c, "--%s: %v", l.flag, err)
		}
		if n > 0 {
			*l.dst = fetch.NewRateLimit(n)
		}
	}
	return cfg, nil
}

// listen opens the peer listener from the --listen and --port flags.
func listen(c *cli.Context, log *slog.Logger) (*fetch.Listener, error) {
	host := c.String("listen")
	port := c.Int("port")
	if port < 0 || port > 65535 {
		return nil, usagef(c, "--port %d is out of range", port)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
	if errors.Is(err, syscall.EADDRINUSE) && !c.IsSet("port") {
		log.Info("default port busy; using any free port", "port", port)
		ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	if err != nil {
		return nil, fmt.Errorf("listen for peers: %w", err)
	}
	pl, err := peerListener(c, ln, log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return pl, nil
}

// newTorrent builds the engine for mi over st, reached through ln, with the
// shared settings of base (from swarmConfig).
func newTorrent(base fetch.Config, ln *fetch.Listener, mi *metainfo.MetaInfo, st fetch.Storage, have bitfield.Bitfield, wantAll bool) *fetch.Torrent {
	cfg := base
	cfg.ListenPort = ln.Port()
	cfg.Info, cfg.InfoHash, cfg.InfoBytes, cfg.Trackers = &mi.Info, mi.InfoHash, mi.InfoBytes, mi.Trackers
	cfg.Storage, cfg.Have, cfg.WantAll = st, have, wantAll
	return fetch.New(cfg)
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
