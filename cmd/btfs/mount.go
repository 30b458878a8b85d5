package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/fs"
	"github.com/btfs/btfs/internal/bytesize"
	"github.com/btfs/btfs/metainfo"
	"github.com/urfave/cli/v2"
)

func mountCommand() *cli.Command {
	return &cli.Command{
		Name:      "mount",
		Usage:     "show a torrent's files as a read-only directory",
		ArgsUsage: "FILE.torrent MOUNTPOINT",
		Description: "Mounts the torrent at MOUNTPOINT (an existing directory). A multi-file torrent shows as a\n" +
			"directory named after it, a single-file torrent as its one file. Reading any byte range fetches\n" +
			"exactly the pieces it needs from the swarm, first, with readahead for sequential readers;\n" +
			"every piece is verified against its SHA-1 before a byte of it is returned, kept in the cache,\n" +
			"and seeded back. Runs in the foreground until SIGINT/SIGTERM or 'btfs unmount MOUNTPOINT'.\n\n" +
			"With no peer holding the data, a read waits (as media players prefer); --read-timeout turns\n" +
			"a long wait into an I/O error, and the log says why.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "readahead", Value: "32MiB", Usage: "largest readahead `SIZE` per open file"},
			&cli.DurationFlag{Name: "read-timeout", Usage: "fail a read with EIO after waiting `DUR` (0: wait)"},
			&cli.BoolFlag{Name: "prefetch", Usage: "also download the rest of the torrent in the background"},
			&cli.BoolFlag{Name: "allow-other", Usage: "let other users read the mount (non-root: needs user_allow_other)"},
			&cli.BoolFlag{Name: "debug-fuse", Usage: "log every FUSE request"},
			metricsFlag(),
		}, append(cacheFlags(), swarmFlags()...)...),
		Action: runMount,
	}
}

// torrentSource gives each open file a fetch.Reader of its own.
type torrentSource struct {
	t         *fetch.Torrent
	readahead int64
}

func (s torrentSource) Open(off, length int64) fs.Reader {
	return s.t.NewReader(off, length, s.readahead)
}

func runMount(c *cli.Context) error {
	if c.NArg() != 2 {
		return usagef(c, "mount needs FILE.torrent and MOUNTPOINT, got %d arguments", c.NArg())
	}
	readahead, err := bytesize.Parse(c.String("readahead"))
	if err != nil {
		return usagef(c, "--readahead: %v", err)
	}
	log := logger(c)
	base, err := swarmConfig(c, log)
	if err != nil {
		return err
	}
	mi, err := metainfo.Load(c.Args().Get(0))
	if err != nil {
		return err
	}
	mountpoint := c.Args().Get(1)
	if err := fs.CheckMountpoint(mountpoint); err != nil { // before any slow start-up work
		return err
	}
	metrics, err := maybeStartMetrics(c, log)
	if err != nil {
		return err
	}
	defer metrics.Close()
	store, err := openTorrentCache(c, mi)
	if err != nil {
		return err
	}
	defer store.Close()
	ln, err := listen(c, log)
	if err != nil {
		return err
	}
	t := newTorrent(base, ln, mi, store, store.Have(), c.Bool("prefetch"))
	stop := runAll(c.Context, ln, t)
	defer stop()

	opts := fs.Options{
		ReadTimeout: c.Duration("read-timeout"), AllowOther: c.Bool("allow-other"),
		MTime: mi.CreationDate, Logger: log, Debug: c.Bool("debug-fuse"),
	}
	if metrics != nil {
		reads := newReadHistogram()
		metrics.Register(newTorrentCollector(metricTorrent{t, mi}), newCacheCollector(store.c), reads)
		opts.OnRead = func(d time.Duration, _ int, _ error) { reads.Observe(d.Seconds()) }
		defer metrics.Close() // before the torrent and the cache it reads stop
	}
	started := time.Now()
	m, err := fs.Mount(mountpoint, &mi.Info, torrentSource{t: t, readahead: readahead}, opts)
	if err != nil {
		return err
	}
	status := &statusSource{mi: mi, mountpoint: absPath(mountpoint), started: started, t: t,
		cache: store.c, cacheDir: absPath(c.String("cache-dir")), files: m.OpenFiles}
	if ctl, err := startControl(runtimeDir(), mountpoint, status, log); err != nil {
		log.Warn("btfs status will not show this mount", "err", err)
	} else {
		defer ctl.Close()
	}
	log.Info("mounted", "mountpoint", mountpoint, "name", mi.Info.Name, "info_hash", mi.InfoHash,
		"have", fmt.Sprintf("%d/%d pieces", store.Have().Count(), mi.Info.NumPieces()), "port", ln.Port())
	unmounted := make(chan struct{})
	go func() { m.Wait(); close(unmounted) }()
	select {
	case <-c.Context.Done():
		if err := m.Unmount(); err != nil {
			return err
		}
		select {
		case <-unmounted:
		case <-time.After(lazyUnmountWait):
			// Detached lazily and still in use: exiting closes our end of
			// the connection, and the kernel then fails the stragglers.
			log.Warn("mount still in use; exiting anyway", "mountpoint", mountpoint)
		}
	case <-unmounted: // umount, fusermount3 -u or btfs unmount
	}
	log.Info("unmounted", "mountpoint", mountpoint)
	return nil
}

// lazyUnmountWait is how long an interrupted mount waits for processes
// still using it to let go before it exits anyway.
const lazyUnmountWait = 5 * time.Second

func unmountCommand() *cli.Command {
	return &cli.Command{
		Name:        "unmount",
		Aliases:     []string{"umount"},
		Usage:       "unmount a btfs mount",
		ArgsUsage:   "MOUNTPOINT",
		Description: "Asks the kernel to detach MOUNTPOINT; the 'btfs mount' serving it then exits cleanly.",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef(c, "unmount needs exactly one MOUNTPOINT")
			}
			return unmount(c.Context, c.Args().First())
		},
	}
}

// unmount detaches a FUSE mount: directly as root, through fusermount3 otherwise.
func unmount(ctx context.Context, dir string) error {
	err := syscall.Unmount(dir, 0)
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.EPERM) {
		for _, tool := range []string{"fusermount3", "fusermount"} {
			if p, lookErr := exec.LookPath(tool); lookErr == nil {
				if out, err := exec.CommandContext(ctx, p, "-u", dir).CombinedOutput(); err != nil {
					return fmt.Errorf("%s -u %s: %v: %s", tool, dir, err, out)
				}
				return nil
			}
		}
	}
	return fmt.Errorf("unmount %s: %w", dir, err)
}
