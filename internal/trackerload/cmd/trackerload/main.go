// Command trackerload is the load generator of scripts/bench-tracker.sh.
//
//	trackerload load -addr HOST:PORT -mode http|http-close|udp [-c N] [-d DUR] [-torrents N] [-peers N] [-phase all|populate|measure]
//	trackerload hashes -torrents N          # the info-hashes, hex, one a line (opentracker's whitelist)
//	trackerload serve -addr HOST:PORT -cpuprofile FILE
//
// load waits for the tracker to answer, populates the swarm (every peer
// announces started once), then measures regular announces for -d and
// prints one line (-phase splits the two, so that a script can read the
// server's CPU time around the measured phase alone):
//
//	RESULT mode=http announces=N rate=R p50_us=A p99_us=B max_us=C errors=E timeouts=T reconnects=K load_cpu=P
//
// serve runs the tracker.Server exactly as `btfs tracker` wires it (same
// options, same http.Server settings, UDP on the same port) and writes a CPU
// profile when interrupted: the product binary has no profiling endpoint,
// and this profiles the same code under the same load.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/btfs/btfs/internal/trackerload"
	"github.com/btfs/btfs/tracker"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: trackerload load|hashes|serve [flags] (-h for each)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "load":
		err = load(ctx, args)
	case "hashes":
		err = hashes(args)
	case "serve":
		err = serve(ctx, args)
	default:
		err = fmt.Errorf("unknown command %q: load, hashes or serve", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "trackerload:", err)
		os.Exit(1)
	}
}

func load(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	var cfg trackerload.Config
	var mode string
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:6969", "tracker `HOST:PORT`")
	fs.StringVar(&mode, "mode", "http", "http (keep-alive), http-close or udp")
	fs.IntVar(&cfg.Concurrency, "c", 32, "workers, one request in flight each")
	fs.DurationVar(&cfg.Duration, "d", 10*time.Second, "measured duration")
	fs.IntVar(&cfg.Torrents, "torrents", 10000, "torrents in the swarm")
	fs.IntVar(&cfg.PeersPerTorrent, "peers", 10, "peers per torrent")
	fs.DurationVar(&cfg.Timeout, "timeout", 2*time.Second, "one request's deadline")
	phase := fs.String("phase", "all", "all, populate (announce every peer once, started) or measure")
	ready := fs.Duration("ready", 10*time.Second, "wait this long for the tracker to accept a first announce")
	fs.Parse(args)
	cfg.Mode = trackerload.Mode(mode)

	if *phase != "measure" {
		if err := trackerload.WaitReady(ctx, cfg, *ready); err != nil {
			return err
		}
		pop, err := trackerload.Populate(ctx, cfg)
		if err != nil {
			return err
		}
		if pop.Errors+pop.Timeouts > 0 {
			return fmt.Errorf("populate: %d errors, %d timeouts of %d announces; first: %s",
				pop.Errors, pop.Timeouts, pop.Announces+pop.Errors+pop.Timeouts, pop.FirstError)
		}
		fmt.Fprintf(os.Stderr, "populated %d peers in %v (%.0f/s)\n", pop.Announces, pop.Elapsed.Round(time.Millisecond), pop.PerSecond())
		if *phase == "populate" {
			return nil
		}
	}
	cpu0 := cpuTime()
	res, err := trackerload.Run(ctx, cfg)
	if err != nil {
		return err
	}
	// The generator's own CPU use: near 100% of its cores means it, not the
	// tracker, may have been the limit.
	loadCPU := 100 * (cpuTime() - cpu0).Seconds() / res.Elapsed.Seconds()
	us := func(d time.Duration) int64 { return d.Microseconds() }
	fmt.Printf("RESULT mode=%s announces=%d rate=%.0f p50_us=%d p99_us=%d max_us=%d errors=%d timeouts=%d reconnects=%d load_cpu=%.0f\n",
		res.Mode, res.Announces, res.PerSecond(), us(res.P50), us(res.P99), us(res.Max), res.Errors, res.Timeouts, res.Reconnects, loadCPU)
	if res.FirstError != "" {
		fmt.Fprintln(os.Stderr, "first error:", res.FirstError)
	}
	return nil
}

func hashes(args []string) error {
	fs := flag.NewFlagSet("hashes", flag.ExitOnError)
	n := fs.Int("torrents", 10000, "how many")
	fs.Parse(args)
	w := os.Stdout
	for t := range *n {
		h := trackerload.InfoHash(t)
		if _, err := fmt.Fprintf(w, "%x\n", h); err != nil {
			return err
		}
	}
	return nil
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:6969", "HTTP and UDP `HOST:PORT`")
	profile := fs.String("cpuprofile", "", "write a CPU profile to `FILE`")
	fs.Parse(args)

	// The options and server settings of cmd/btfs/tracker.go, with
	// scripts/bench-tracker.sh's per-address limits.
	srv, err := tracker.NewServer(tracker.ServerOptions{Interval: 30 * time.Minute, MinInterval: 5 * time.Minute,
		PerIPAnnounceRate: 1_000_000, PerIPAnnounceBurst: 1_000_000, PerIPMaxTorrents: tracker.Unlimited})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	pc, err := tracker.ListenUDP(ctx, *addr)
	if err != nil {
		return err
	}
	defer pc.Close()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errs := make(chan error, 2)
	go func() { errs <- hs.Serve(ln) }()
	go func() { errs <- srv.ServeUDP(ctx, pc) }()
	fmt.Fprintf(os.Stderr, "serving on %s (http and udp)\n", *addr)
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	hs.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// cpuTime is the user and system time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
