package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/tracker"
	"github.com/urfave/cli/v2"
)

func trackerCommand() *cli.Command {
	return &cli.Command{
		Name:  "tracker",
		Usage: "run a BitTorrent tracker (HTTP and UDP)",
		Description: "Serves announces (BEP 3, compact peers BEP 23, IPv6 BEP 7) and scrapes (BEP 48) over HTTP at\n" +
			"/announce and /scrape, the UDP tracker protocol (BEP 15), and counts for operators at /stats.\n" +
			"Open to any torrent unless --allow names the ones to serve: a .torrent file, a directory of\n" +
			".torrent files, or a text file with one hex info-hash per line. Runs until SIGINT/SIGTERM.\n\n" +
			"Limits: memory is bounded by --max-torrents, --max-peers and --max-peers-per-torrent. One address\n" +
			"(an IPv6 /64) may announce --announce-rate-per-ip times a second, --announce-burst-per-ip at once, and\n" +
			"be the only peer of --max-torrents-per-ip torrents; 0 switches a per-address limit off. A full tracker\n" +
			"evicts a torrent that only one address announces (the address with most such first) for a new one.\n" +
			"Behind a reverse proxy every HTTP request has the proxy's address: raise the per-address limits,\n" +
			"or switch them off with 0.\n\n" +
			"The ip parameter (and the UDP IP field) is ignored unless the request comes from a --trust-ip-from\n" +
			"network, and then only for a unicast address; otherwise a peer is stored at its source address.\n\n" +
			"Example:\n   btfs tracker --listen 127.0.0.1:6969 --udp 127.0.0.1:6969",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: ":6969", Usage: "HTTP `ADDR`"},
			&cli.StringFlag{Name: "udp", Value: ":6969", Usage: "UDP `ADDR` (empty: no UDP)"},
			&cli.DurationFlag{Name: "interval", Value: 30 * time.Minute, Usage: "announce interval asked of clients"},
			&cli.StringFlag{Name: "allow", Usage: "serve only the torrents in `FILE|DIR`"},
			&cli.BoolFlag{Name: "stats", Usage: "print counts to stderr every 10 seconds"},
			&cli.IntFlag{Name: "max-torrents", Value: tracker.DefaultMaxTorrents, Usage: "`N` torrents tracked at once"},
			&cli.IntFlag{Name: "max-peers", Value: tracker.DefaultMaxPeers, Usage: "`N` peers stored at once, all torrents together"},
			&cli.IntFlag{Name: "max-peers-per-torrent", Value: tracker.DefaultMaxPeersPerTorrent, Usage: "`N` peers stored per torrent"},
			&cli.IntFlag{Name: "max-torrents-per-ip", Value: tracker.DefaultPerIPMaxTorrents, Usage: "`N` torrents one address may be the only peer of (0: no limit)"},
			&cli.IntFlag{Name: "announce-rate-per-ip", Value: tracker.DefaultPerIPAnnounceRate, Usage: "`N` announces a second from one address (0: no limit)"},
			&cli.IntFlag{Name: "announce-burst-per-ip", Value: tracker.DefaultPerIPAnnounceBurst, Usage: "`N` announces one address may send at once"},
			&cli.StringSliceFlag{Name: "trust-ip-from", Usage: "honour the ip parameter from `CIDR` (repeatable; e.g. a LAN behind the tracker's NAT)"},
			metricsFlag(),
		},
		Action: runTracker,
	}
}

func runTracker(c *cli.Context) error {
	if c.NArg() != 0 {
		return usagef(c, "tracker takes no arguments")
	}
	log := logger(c)
	opts, err := trackerOptions(c)
	if err != nil {
		return err
	}
	opts.Logger = log
	if path := c.String("allow"); path != "" {
		hashes, err := loadAllowList(path)
		if err != nil {
			return err
		}
		opts.Allow = tracker.AllowOnly(hashes...)
		log.Info("serving only listed torrents", "count", len(hashes))
	}
	srv, err := tracker.NewServer(opts)
	if err != nil {
		return err
	}
	metrics, err := maybeStartMetrics(c, log)
	if err != nil {
		return err
	}
	defer metrics.Close()
	metrics.Register(newTrackerCollector(srv))
	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	errs := make(chan error, 2)
	running := 0

	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return fmt.Errorf("tracker: %w", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	running++
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errs <- err
			return
		}
		errs <- nil
	}()
	fmt.Fprintf(c.App.ErrWriter, "tracker: http://%s/announce\n", ln.Addr())
	if addr := c.String("udp"); addr != "" {
		pc, err := tracker.ListenUDP(ctx, addr)
		if err != nil {
			hs.Close()
			return err
		}
		defer pc.Close()
		running++
		go func() { errs <- srv.ServeUDP(ctx, pc) }()
		fmt.Fprintf(c.App.ErrWriter, "tracker: udp://%s/announce\n", pc.LocalAddr())
	}
	if c.Bool("stats") {
		go printStats(ctx, c, srv)
	}

	var firstErr error
	select {
	case <-ctx.Done():
	case firstErr = <-errs:
		running--
	}
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	hs.Shutdown(shutdownCtx)
	for ; running > 0; running-- {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// trackerOptions turns the limit flags into ServerOptions.
func trackerOptions(c *cli.Context) (tracker.ServerOptions, error) {
	opts := tracker.ServerOptions{
		Interval: c.Duration("interval"), MinInterval: min(c.Duration("interval"), 5*time.Minute),
		MaxTorrents: c.Int("max-torrents"), MaxPeers: c.Int("max-peers"), MaxPeersPerTorrent: c.Int("max-peers-per-torrent"),
	}
	for _, f := range []struct {
		name string
		dst  *int
		off  bool // 0 switches the limit off
	}{
		{"max-torrents", &opts.MaxTorrents, false}, {"max-peers", &opts.MaxPeers, false},
		{"max-peers-per-torrent", &opts.MaxPeersPerTorrent, false},
		{"max-torrents-per-ip", &opts.PerIPMaxTorrents, true}, {"announce-rate-per-ip", &opts.PerIPAnnounceRate, true},
		{"announce-burst-per-ip", &opts.PerIPAnnounceBurst, false},
	} {
		n := c.Int(f.name)
		switch {
		case n == 0 && f.off:
			*f.dst = tracker.Unlimited
		case n <= 0:
			return opts, usagef(c, "--%s %d: give a positive number", f.name, n)
		default:
			*f.dst = n
		}
	}
	for _, s := range c.StringSlice("trust-ip-from") { // "a,b" arrives split
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return opts, usagef(c, "--trust-ip-from %q: give a network (10.0.0.0/8) or an address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		opts.TrustIPFrom = append(opts.TrustIPFrom, p.Masked())
	}
	return opts, nil
}

func printStats(ctx context.Context, c *cli.Context, srv *tracker.Server) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s := srv.Stats()
			fmt.Fprintf(c.App.ErrWriter, "tracker: %d torrents, %d seeders, %d leechers, %d announces, %d scrapes, %d errors (%d over an address's rate), %d torrents evicted\n",
				s.Torrents, s.Seeders, s.Leechers, s.Announces, s.Scrapes, s.Errors, s.Throttled, s.Evicted)
		}
	}
}

// loadAllowList reads info-hashes from a .torrent file, a directory of them,
// or a text file of hex info-hashes (one per line, # comments).
func loadAllowList(path string) ([]metainfo.Hash, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--allow: %w", err)
	}
	if st.IsDir() {
		names, err := filepath.Glob(filepath.Join(path, "*.torrent"))
		if err != nil {
			return nil, err
		}
		var hashes []metainfo.Hash
		for _, n := range names {
			mi, err := metainfo.Load(n)
			if err != nil {
				return nil, fmt.Errorf("--allow: %w", err)
			}
			hashes = append(hashes, mi.InfoHash)
		}
		return hashes, nil
	}
	if strings.HasSuffix(path, ".torrent") {
		mi, err := metainfo.Load(path)
		if err != nil {
			return nil, fmt.Errorf("--allow: %w", err)
		}
		return []metainfo.Hash{mi.InfoHash}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--allow: %w", err)
	}
	defer f.Close()
	var hashes []metainfo.Hash
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		h, err := metainfo.ParseHash(s)
		if err != nil {
			return nil, fmt.Errorf("--allow %s:%d: %w", path, line, err)
		}
		hashes = append(hashes, h)
	}
	return hashes, sc.Err()
}
