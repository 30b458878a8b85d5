package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/btfs/btfs/cache"
	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/internal/bytesize"
	"github.com/btfs/btfs/metainfo"
	"github.com/urfave/cli/v2"
)

// The cache is what the engine reads and writes pieces through.
var _ fetch.Storage = (*cache.TorrentStore)(nil)

func cacheCommand() *cli.Command {
	onUsage := func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
	return &cli.Command{
		Name:  "cache",
		Usage: "list or forget what the piece cache holds",
		Description: "Every verified piece a mount fetches is kept in one cache shared by all torrents (by\n" +
			"default in $XDG_CACHE_HOME/btfs, else ~/.cache/btfs), bounded by --cache-size: the least\n" +
			"recently read pieces are evicted first and fetched again when wanted. A running mount holds\n" +
			"the cache, so stop it before using these commands.",
		Subcommands: []*cli.Command{
			{
				Name:      "ls",
				Usage:     "list the torrents in the cache with their sizes",
				ArgsUsage: " ",
				Description: "Prints each torrent's info-hash, the pieces held of its total, their size and its name,\n" +
					"then the total, the directory's size on disk and the bound. --json gives the same for scripts.",
				Flags:        append(cacheFlags(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}),
				Action:       runCacheLs,
				OnUsageError: onUsage,
			},
			{
				Name:      "rm",
				Usage:     "forget torrents: drop their pieces and give the space back",
				ArgsUsage: "INFOHASH|FILE.torrent|MAGNET...",
				Description: "Drops every piece of each torrent, named by its info-hash (40 hex digits), its .torrent\n" +
					"file or its magnet link (and the metadata kept for a magnet link), and compacts the cache so\n" +
					"that the disk space is free when the command returns.",
				Flags:        cacheFlags(),
				Action:       runCacheRm,
				OnUsageError: onUsage,
			},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usagef(c, "cache needs a subcommand: ls or rm")
			}
			return usagef(c, "unknown cache subcommand %q: want ls or rm", c.Args().First())
		},
		OnUsageError: onUsage,
	}
}

// cacheSizeDefault says what the bound is when --cache-size is not given:
// the cache package picks it at Open (cache.DefaultMaxSize, or
// cache.DefaultDiskShare of the disk's room when that is less).
var cacheSizeDefault = fmt.Sprintf("%s, or %d%% of the disk's free space plus the cache if less",
	strings.ReplaceAll(bytesize.Format(cache.DefaultMaxSize), " ", ""), cache.DefaultDiskShare)

// cacheFlags are the flags of every command that uses the piece cache.
func cacheFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "cache-dir", Value: defaultCacheDir(), Usage: "keep verified pieces under `DIR`"},
		&cli.StringFlag{Name: "cache-size", DefaultText: cacheSizeDefault,
			Usage: "bound the cache to `SIZE` on disk (512MiB, 10GiB, 10G); least recently used pieces go first"},
	}
}

// cacheSize parses --cache-size; 0 when it is not given (the cache picks).
func cacheSize(c *cli.Context) (int64, error) {
	if !c.IsSet("cache-size") {
		return 0, nil
	}
	n, err := bytesize.Parse(c.String("cache-size"))
	if err != nil {
		return 0, usagef(c, "--cache-size: %v", err)
	}
	if n < cache.MinMaxSize {
		return 0, usagef(c, "--cache-size %s is below the minimum of %s", c.String("cache-size"), bytesize.Format(cache.MinMaxSize))
	}
	return n, nil
}

// openCache opens the cache the --cache-dir and --cache-size flags name.
func openCache(c *cli.Context) (*cache.Cache, error) {
	size, err := cacheSize(c)
	if err != nil {
		return nil, err
	}
	return cache.Open(c.String("cache-dir"), cache.Options{MaxSize: size, Logger: logger(c)})
}

// cacheExists reports whether --cache-dir exists, so that ls and rm do not
// make an empty cache as a side effect.
func cacheExists(c *cli.Context) (bool, error) {
	_, err := os.Stat(c.String("cache-dir"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// cacheLsJSON is the --json form; field names are part of the CLI's contract.
type cacheLsJSON struct {
	Dir      string             `json:"dir"`
	Bound    int64              `json:"bound"`
	Disk     int64              `json:"disk"`
	Live     int64              `json:"live"`
	Torrents []cacheTorrentJSON `json:"torrents"`
}

type cacheTorrentJSON struct {
	InfoHash  string `json:"info_hash"`
	Name      string `json:"name"`
	Pieces    int    `json:"pieces"`
	NumPieces int    `json:"num_pieces"`
	Bytes     int64  `json:"bytes"`
}

func runCacheLs(c *cli.Context) error {
	if c.NArg() != 0 {
		return usagef(c, "cache ls takes no arguments, got %d", c.NArg())
	}
	size, err := cacheSize(c)
	if err != nil {
		return err
	}
	out := cacheLsJSON{Dir: c.String("cache-dir"), Bound: size, Torrents: []cacheTorrentJSON{}}
	if ok, err := cacheExists(c); err != nil {
		return err
	} else if ok {
		cc, err := openCache(c)
		if err != nil {
			return err
		}
		for _, u := range cc.List() {
			out.Torrents = append(out.Torrents, cacheTorrentJSON{InfoHash: u.Hash.String(), Name: u.Name,
				Pieces: u.Pieces, NumPieces: u.NumPieces, Bytes: u.Bytes})
		}
		use := cc.Usage()
		out.Disk, out.Live, out.Bound = use.Disk, use.Live, use.MaxSize
		if err := cc.Close(); err != nil {
			return err
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return printCacheLs(c.App.Writer, out)
}

func printCacheLs(w io.Writer, ls cacheLsJSON) error {
	if len(ls.Torrents) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "INFO-HASH\tPIECES\tSIZE\t NAME")
		for _, t := range ls.Torrents {
			fmt.Fprintf(tw, "%s\t%d/%d\t%s\t %s\n", t.InfoHash, t.Pieces, t.NumPieces, bytesize.Format(t.Bytes), t.Name)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%d torrents, %s of pieces; %s on disk in %s; bound %s\n", len(ls.Torrents),
		bytesize.Format(ls.Live), bytesize.Format(ls.Disk), ls.Dir, bytesize.Format(ls.Bound))
	return err
}

// torrentArg reads an info-hash, a magnet link's or a .torrent file's.
func torrentArg(c *cli.Context, arg string) (metainfo.Hash, error) {
	if h, err := metainfo.ParseHash(arg); err == nil {
		return h, nil
	}
	mi, link, err := loadTorrentArg(arg)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return metainfo.Hash{}, usagef(c, "%q is neither an info-hash nor a .torrent file", arg)
	case err != nil:
		return metainfo.Hash{}, err
	case link != nil:
		return link.InfoHash, nil
	}
	return mi.InfoHash, nil
}

func runCacheRm(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef(c, "cache rm needs at least one INFOHASH or FILE.torrent")
	}
	var hashes []metainfo.Hash
	for _, arg := range c.Args().Slice() {
		h, err := torrentArg(c, arg)
		if err != nil {
			return err
		}
		hashes = append(hashes, h)
	}
	if ok, err := cacheExists(c); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%s: %w (there is no cache in %s)", hashes[0], cache.ErrNotCached, c.String("cache-dir"))
	}
	cc, err := openCache(c)
	if err != nil {
		return err
	}
	defer cc.Close()
	held := map[metainfo.Hash]cache.TorrentUsage{}
	for _, u := range cc.List() {
		held[u.Hash] = u
	}
	before := cc.Usage().Disk
	var errs []error
	for _, h := range hashes {
		if err := cc.Remove(h); err != nil {
			errs = append(errs, err)
			continue
		}
		u := held[h]
		fmt.Fprintf(c.App.Writer, "removed %s %s (%d pieces, %s)\n", h, u.Name, u.Pieces, bytesize.Format(u.Bytes))
	}
	if err := cc.Compact(); err != nil {
		errs = append(errs, err)
	}
	after := cc.Usage().Disk
	fmt.Fprintf(c.App.Writer, "%s on disk now (%s freed)\n", bytesize.Format(after), bytesize.Format(max(before-after, 0)))
	if err := cc.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// readaheadFraction: the readahead of one open file is at most this
// fraction of the cache's bound. A window larger than what the cache keeps
// (16 MiB bound, 32 MiB readahead) evicts the pieces it fetched before the
// reader gets to them, and they are fetched again and again.
const readaheadFraction = 4

// fitReadahead bounds readahead to what the cache can keep for a reader.
func fitReadahead(readahead int64, cc *cache.Cache, log *slog.Logger) int64 {
	if most := cc.MaxSize() / readaheadFraction; readahead > most {
		log.Info("readahead lowered to a quarter of the cache's bound", "readahead", bytesize.Format(most), "cache_size", bytesize.Format(cc.MaxSize()))
		return most
	}
	return readahead
}
