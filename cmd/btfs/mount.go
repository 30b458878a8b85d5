package main

import (
	"fmt"
	"time"

	"github.com/btfs/btfs/dht"
	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/fs"
	"github.com/btfs/btfs/internal/bytesize"
	"github.com/urfave/cli/v2"
)

func mountCommand() *cli.Command {
	return &cli.Command{
		Name:      "mount",
		Usage:     "show a torrent's files as a read-only directory",
		ArgsUsage: "FILE.torrent|MAGNET MOUNTPOINT",
		Description: "Mounts the torrent at MOUNTPOINT (an existing directory). A multi-file torrent shows as a\n" +
			"directory named after it, a single-file torrent as its one file. Reading any byte range fetches\n" +
			"exactly the pieces it needs from the swarm, first, with readahead for sequential readers;\n" +
			"every piece is verified against its SHA-1 before a byte of it is returned, kept in the cache,\n" +
			"and seeded back. Runs in the foreground until SIGINT/SIGTERM or 'btfs unmount MOUNTPOINT'.\n\n" +
			"With no peer holding the data, a read waits (as media players prefer); --read-timeout turns\n" +
			"a long wait into an I/O error, and the log says why. A signal to the thread that reads (Ctrl-C\n" +
			"in cat or Python) ends its wait with EINTR; a program that reads on one thread and takes the\n" +
			"signal on another (mpv, ffmpeg) waits until the data comes or --read-timeout passes.\n\n" +
			"A magnet link mounts at once: the directory is empty (but for a hidden note, " + fs.PendingFile + ")\n" +
			"until the metadata comes from the link's peers (x.pe) and the peers its trackers (tr) and the DHT\n" +
			"name; then the files appear. --wait-metadata mounts only once it is in. The metadata is kept in\n" +
			"the cache, so a remount needs no peer for it.\n\n" +
			dhtHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "readahead", Value: "32MiB", Usage: "largest readahead `SIZE` per open file"},
			&cli.DurationFlag{Name: "read-timeout", Usage: "fail a read with EIO `DUR` after its bytes were first asked for, retries included (0: wait)"},
			&cli.BoolFlag{Name: "prefetch", Usage: "also download the rest of the torrent in the background"},
			&cli.BoolFlag{Name: "allow-other", Usage: "let other users read the mount (non-root: needs user_allow_other)"},
			&cli.BoolFlag{Name: "debug-fuse", Usage: "log every FUSE request"},
			&cli.BoolFlag{Name: "wait-metadata", Usage: "for a magnet link: mount only once its metadata is in"},
			metadataTimeoutFlag(),
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
		return usagef(c, "mount needs FILE.torrent (or MAGNET) and MOUNTPOINT, got %d arguments", c.NArg())
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
	mi, link, err := loadTorrentArg(c.Args().Get(0))
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
	cc, err := openCache(c)
	if err != nil {
		return err
	}
	defer cc.Close()
	readahead = fitReadahead(readahead, cc, log)
	ln, err := listen(c, log)
	if err != nil {
		return err
	}
	defer ln.Close() // if the torrent never starts; otherwise closed already
	var node *dht.Node
	if mi == nil || !mi.Info.Private { // a private torrent never uses the DHT
		if node, err = openDHT(c, log, ln.Port(), cacheState(c.String("cache-dir"))); err != nil {
			return err
		}
		defer closeDHT(node) // once the engine and the metadata fetch have stopped (s.stop)
		base = withDHT(base, node)
	}
	s := &mountSession{c: c, log: log, base: base, readahead: readahead, cache: cc, ln: ln, metrics: metrics,
		mountpoint: mountpoint, started: time.Now()}
	defer s.stop()
	if link != nil {
		if s.magnet, err = newMagnetFetch(*link, base.PeerID, ln.Port(), node, log); err != nil {
			return err
		}
		mi = cachedInfo(cc, *link, log)
		if mi == nil && c.Bool("wait-metadata") {
			if mi, err = s.magnet.fetch(c.Context, c.Duration("metadata-timeout")); err != nil {
				s.magnet.stop()
				return err
			}
			keepInfo(cc, mi, log)
		}
	}

	opts := fs.Options{
		ReadTimeout: c.Duration("read-timeout"), AllowOther: c.Bool("allow-other"),
		Logger: log, Debug: c.Bool("debug-fuse"),
	}
	if mi != nil {
		opts.MTime = mi.CreationDate
	}
	if metrics != nil {
		reads := newReadHistogram()
		metrics.Register(newCacheCollector(cc), reads)
		opts.OnRead = func(d time.Duration, _ int, _ error) { reads.Observe(d.Seconds()) }
	}
	var metaDone <-chan metadataResult
	if mi != nil {
		s.startEngine(mi)
		if s.mounted, err = fs.Mount(mountpoint, &mi.Info, s.source(), opts); err != nil {
			return err
		}
		s.serveStatus()
		log.Info("mounted", "mountpoint", mountpoint, "name", mi.Info.Name, "info_hash", mi.InfoHash,
			"have", fmt.Sprintf("%d/%d pieces", s.store.Have().Count(), mi.Info.NumPieces()), "port", ln.Port())
	} else {
		if s.mounted, err = fs.MountPending(mountpoint, pendingNote(*link), opts); err != nil {
			return err
		}
		log.Info("mounted", "mountpoint", mountpoint, "name", link.Name, "info_hash", link.InfoHash,
			"metadata", "pending: the files appear when it arrives", "port", ln.Port())
		metaDone = s.fetchInBackground()
	}
	unmounted := make(chan struct{})
	go func() { s.mounted.Wait(); close(unmounted) }()
	for {
		select {
		case r := <-metaDone:
			metaDone = nil
			if r.err != nil && c.Context.Err() == nil {
				log.Error("no metadata; unmounting", "err", r.err)
				s.magnet.stop()
				s.unmount(unmounted)
				return r.err
			}
			if r.err != nil {
				continue // interrupted: the next case unmounts
			}
			keepInfo(cc, r.mi, log)
			s.startEngine(r.mi)
			if err := s.mounted.Populate(&r.mi.Info, s.source()); err != nil {
				return err
			}
			s.serveStatus()
			log.Info("metadata arrived; files shown", "mountpoint", mountpoint, "name", r.mi.Info.Name,
				"have", fmt.Sprintf("%d/%d pieces", s.store.Have().Count(), r.mi.Info.NumPieces()))
		case <-c.Context.Done():
			if err := s.unmount(unmounted); err != nil {
				return err
			}
			log.Info("unmounted", "mountpoint", mountpoint)
			return nil
		case <-unmounted: // umount, fusermount3 -u or btfs unmount
			log.Info("unmounted", "mountpoint", mountpoint)
			return nil
		}
	}
}

// lazyUnmountWait is how long an interrupted mount waits for processes
// still using it to let go before it exits anyway.
const lazyUnmountWait = 5 * time.Second

func unmountCommand() *cli.Command {
	return &cli.Command{
		Name:      "unmount",
		Aliases:   []string{"umount"},
		Usage:     "unmount a btfs mount",
		ArgsUsage: "MOUNTPOINT",
		Description: "Asks the kernel to detach MOUNTPOINT; the 'btfs mount' serving it then exits cleanly.\n" +
			"A mount in use (a file open, a shell inside) stays, and the error names the processes using\n" +
			"it. --lazy detaches it at once (umount -l): the mount process exits, and what those processes\n" +
			"still read fails. Ctrl-C on 'btfs mount' ends blocked reads first, then detaches lazily too.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "lazy", Aliases: []string{"z"}, Usage: "detach even while in use (umount -l)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef(c, "unmount needs exactly one MOUNTPOINT")
			}
			return fs.Detach(c.Context, c.Args().First(), c.Bool("lazy"))
		},
	}
}
