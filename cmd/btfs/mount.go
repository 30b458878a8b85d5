package main

import (
	"os"
	"time"

	"github.com/btfs/btfs/fs"
	"github.com/btfs/btfs/internal/bytesize"
	"github.com/btfs/btfs/session"
	"github.com/urfave/cli/v2"
)

func mountCommand() *cli.Command {
	return &cli.Command{
		Name:      "mount",
		Usage:     "show torrents' files as a read-only directory",
		ArgsUsage: "FILE.torrent|MAGNET... MOUNTPOINT",
		Description: "Mounts the torrents at MOUNTPOINT (an existing directory). A multi-file torrent shows as a\n" +
			"directory named after it, a single-file torrent as its one file. With several torrents, or with\n" +
			"--watch DIR (every .torrent and .magnet file of DIR, followed as files come and go), the mount is\n" +
			"a library: each torrent's entry sits at its root (a clash of names gets a tag from the info-hash),\n" +
			"and 'btfs add' and 'btfs remove' change it while mounted. A torrent idle for --idle-timeout\n" +
			"leaves its swarm until one of its files is opened. Reading any byte range fetches exactly the\n" +
			"pieces it needs from the swarm, first, with readahead for sequential readers;\n" +
			"every piece is verified against its SHA-1 before a byte of it is returned, kept in the cache,\n" +
			"and seeded back. Runs in the foreground until SIGINT/SIGTERM or 'btfs unmount MOUNTPOINT'.\n\n" +
			"Mounts that use one cache directory share it: the first starts a background 'btfs session'\n" +
			"holding the cache, the listener and the DHT node, which serves every mount of that cache and\n" +
			"exits with the last; each mount command stays in the foreground, and ending it (even kill -9)\n" +
			"unmounts its mountpoint alone. Process-wide flags (--port, rates, DHT, --cache-size) are those\n" +
			"of the command that started the session.\n\n" +
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
			&cli.BoolFlag{Name: "no-fill", Usage: "fetch only what is read, not the rest of the open files in the background"},
			&cli.BoolFlag{Name: "allow-other", Usage: "let other users read the mount (non-root: needs user_allow_other)"},
			&cli.BoolFlag{Name: "debug-fuse", Usage: "log every FUSE request"},
			&cli.BoolFlag{Name: "wait-metadata", Usage: "for a magnet link: mount only once its metadata is in"},
			&cli.StringFlag{Name: "watch", Usage: "also show every .torrent file, and every .magnet file holding a link, of `DIR`, as files come and go"},
			metadataTimeoutFlag(),
			metricsFlag(),
		}, append(append(cacheFlags(), swarmFlags()...), parkFlags()...)...),
		Action: runMount,
	}
}

func runMount(c *cli.Context) error {
	watch := c.String("watch")
	switch {
	case watch != "" && c.NArg() < 1:
		return usagef(c, "mount --watch DIR needs the MOUNTPOINT")
	case watch == "" && c.NArg() < 2:
		return usagef(c, "mount needs FILE.torrent (or MAGNET)... and MOUNTPOINT, got %d arguments", c.NArg())
	}
	readahead, err := bytesize.Parse(c.String("readahead"))
	if err != nil {
		return usagef(c, "--readahead: %v", err)
	}
	cfg, err := swarmConfig(c, logger(c))
	if err != nil {
		return err
	}
	if err := parkConfig(c, &cfg); err != nil {
		return err
	}
	if _, err := cacheSize(c); err != nil {
		return err
	}
	args := c.Args().Slice()
	torrents, mountpoint := args[:len(args)-1], args[len(args)-1]
	for _, a := range torrents { // a bad argument is reported here, before the session
		if _, _, err := loadTorrentArg(a); err != nil {
			return err
		}
	}
	if watch != "" {
		if fi, err := os.Stat(watch); err != nil || !fi.IsDir() {
			return usagef(c, "--watch %s: not a directory", watch)
		}
		watch = absPath(watch)
	}
	if err := fs.CheckMountpoint(mountpoint); err != nil { // before any slow start-up work
		return err
	}
	return runHolderClient(c, holderRequest{
		Op: "mount", Torrents: absPaths(torrents), Mountpoint: absPath(mountpoint), Metrics: c.String("metrics"),
		Readahead: readahead, ReadTimeout: c.Duration("read-timeout"), Prefetch: c.Bool("prefetch"), NoFill: c.Bool("no-fill"),
		AllowOther: c.Bool("allow-other"), DebugFUSE: c.Bool("debug-fuse"),
		WaitMetadata: c.Bool("wait-metadata"), MetadataTimeout: c.Duration("metadata-timeout"), Watch: watch,
	})
}

// absPaths makes the .torrent paths among args absolute, for a session
// process with another working directory; magnet links stay as they are.
func absPaths(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if !session.IsMagnet(a) {
			out[i] = absPath(a)
		}
	}
	return out
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
