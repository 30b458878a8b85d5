package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/btfs/btfs/internal/bytesize"
	"github.com/btfs/btfs/metainfo"
	"github.com/urfave/cli/v2"
)

func createCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "make a .torrent file from a file or a directory",
		ArgsUsage: "PATH",
		Description: "Hashes PATH (a file, or a directory and everything below it) into pieces and writes a\n" +
			"v1 .torrent file. Files of a directory are ordered by their relative path, so the same tree\n" +
			"always gives the same info-hash. Hashing uses every core and reads each byte once.\n\n" +
			"Each --tracker starts a new tier (BEP 12); several URLs in one --tracker, separated by commas,\n" +
			"share a tier. Without --piece-length, the length is the power of two from 16 KiB to 16 MiB that\n" +
			"gives at most 2000 pieces.\n\n" +
			"Example:\n   btfs create -t http://127.0.0.1:6969/announce -o movie.torrent ~/Videos/movie.mkv",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "tracker", Aliases: []string{"t"}, Usage: "announce `URL` (repeat for more tiers)"},
			&cli.StringFlag{Name: "piece-length", Aliases: []string{"l"}, Usage: "piece length in `BYTES`, a power of two from 16KiB to 64MiB (e.g. 256KiB, 4MiB)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the torrent to `FILE` (default: NAME.torrent)"},
			&cli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "torrent name, one plain file name (default: the base name of PATH)"},
			&cli.BoolFlag{Name: "private", Aliases: []string{"p"}, Usage: "set the private flag (BEP 27: trackers only, no DHT or PEX)"},
			&cli.StringFlag{Name: "comment", Aliases: []string{"c"}, Usage: "free-form `TEXT`"},
			&cli.StringSliceFlag{Name: "web-seed", Aliases: []string{"w"}, Usage: "web seed `URL` (BEP 19; repeatable)"},
			&cli.BoolFlag{Name: "no-date", Usage: "leave out the creation date, for byte-identical output"},
			&cli.IntFlag{Name: "threads", Usage: "hashing `N` threads (default: all cores)"},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite FILE if it exists"},
		},
		Action: runCreate,
	}
}

func runCreate(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef(c, "create needs exactly one PATH, got %d arguments", c.NArg())
	}
	root := c.Args().First()
	opts := metainfo.CreateOptions{
		Name:      c.String("name"),
		Private:   c.Bool("private"),
		Comment:   c.String("comment"),
		CreatedBy: "btfs " + c.App.Version,
		WebSeeds:  c.StringSlice("web-seed"),
		Workers:   c.Int("threads"),
	}
	if !c.Bool("no-date") {
		opts.CreationDate = time.Now()
	}
	for _, t := range c.StringSlice("tracker") {
		var tier []string
		for _, u := range strings.Split(t, ",") {
			if u = strings.TrimSpace(u); u != "" {
				tier = append(tier, u)
			}
		}
		opts.Trackers = append(opts.Trackers, tier)
	}
	if s := c.String("piece-length"); s != "" {
		n, err := bytesize.Parse(s)
		if err != nil || n <= 0 {
			return usagef(c, "--piece-length %q: want a positive size in bytes", s)
		}
		if err := metainfo.CheckPieceLength(n); err != nil {
			return usagef(c, "--piece-length %s: %v", s, err)
		}
		opts.PieceLength = n
	}
	if opts.Name != "" {
		if err := metainfo.CheckName(opts.Name); err != nil {
			return usagef(c, "--name: %v", err)
		}
	} else {
		abs, err := filepath.Abs(root)
		if err != nil {
			return err
		}
		if opts.Name = filepath.Base(abs); metainfo.CheckName(opts.Name) != nil {
			return usagef(c, "%s has no usable base name for the torrent: give one with --name", root)
		}
	}
	out := c.String("output")
	if out == "" {
		out = opts.Name + ".torrent"
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if c.Bool("force") {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	// Check the output before hashing for minutes; written only on success.
	if _, err := os.Stat(out); err == nil && !c.Bool("force") {
		return fmt.Errorf("%s exists; use --force to overwrite it", out)
	}

	bar := newProgress(c.App.ErrWriter, 0, "hashing")
	opts.Progress = func(done, total int64) {
		if bar.bar != nil && bar.bar.GetMax64() != total {
			bar.bar.ChangeMax64(total)
		}
		bar.Set(done)
	}
	mi, err := metainfo.Create(c.Context, root, opts)
	bar.Finish()
	if err != nil {
		return err
	}
	data, err := mi.Encode()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(out, flags, 0o644)
	if err != nil {
		return fmt.Errorf("write torrent: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(out)
		return fmt.Errorf("write torrent: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(out)
		return fmt.Errorf("write torrent: %w", err)
	}
	logger(c).Debug("created", "file", out, "info_hash", mi.InfoHash, "pieces", mi.Info.NumPieces())
	fmt.Fprintf(c.App.Writer, "%s  %s  (%s in %d pieces of %s)\n", mi.InfoHash, out,
		bytesize.Format(mi.Info.Length), mi.Info.NumPieces(), bytesize.Format(mi.Info.PieceLength))
	return nil
}
