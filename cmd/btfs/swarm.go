package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"

	"github.com/btfs/btfs/cache"
	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/internal/bytesize"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/session"
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

// swarmConfig is the part of a session's configuration that the flags
// give: our identity and the limits (one for all torrents). Commands call
// it before any slow work, so that a bad flag is reported at once.
func swarmConfig(c *cli.Context, log *slog.Logger) (session.Config, error) {
	cfg := session.Config{PeerID: newPeerID(), MaxPeers: c.Int("max-peers"), Logger: log}
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

// startSession opens the peer listener and (unless --no-dht, or with no
// public torrent) the DHT node, and starts a session over them and cc (nil:
// no cache). The session owns all three.
func startSession(c *cli.Context, log *slog.Logger, cfg session.Config, cc *cache.Cache, state dhtStateFile, public bool) (*session.Session, error) {
	ln, err := listen(c, log)
	if err != nil {
		return nil, err
	}
	if public { // a private torrent never uses the DHT
		if cfg.DHT, err = openDHT(c, log, ln.Port(), state); err != nil {
			ln.Close()
			return nil, err
		}
	}
	cfg.Listener, cfg.Cache = ln, cc
	return session.New(cfg), nil
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

// checkStorage verifies what st holds, with a progress bar.
func checkStorage(c *cli.Context, mi *metainfo.MetaInfo, st fetch.Storage) (fetch.CheckResult, error) {
	bar := newProgress(c.App.ErrWriter, int64(mi.Info.NumPieces()), "checking "+mi.Info.Name)
	res, err := fetch.Check(c.Context, &mi.Info, st, func(done, _ int) { bar.Set(int64(done)) })
	bar.Finish()
	return res, err
}
