package main

import (
	"fmt"
	"path/filepath"

	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/filestore"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/session"
	"github.com/urfave/cli/v2"
)

func seedCommand() *cli.Command {
	return &cli.Command{
		Name:      "seed",
		Usage:     "serve complete torrents to the swarm",
		ArgsUsage: "FILE.torrent...",
		Description: "Checks the data of each torrent under DIR (laid out as in the torrent, as 'btfs get' leaves it),\n" +
			"then announces to the trackers and the DHT and serves every peer that asks, on one port, until\n" +
			"interrupted. Missing or wrong data is an error that names the first bad piece and its file.\n\n" +
			"With --from-cache, serves instead the pieces the cache holds (what mounts have read), however\n" +
			"few: the bitfield tells peers which. No data directory is needed.\n\n" +
			dhtHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data", Aliases: []string{"d"}, Value: ".", Usage: "the torrents' data lives under `DIR`"},
			&cli.BoolFlag{Name: "from-cache", Usage: "serve the pieces in the cache (--cache-dir) instead of data files"},
			metricsFlag(),
		}, append(cacheFlags(), swarmFlags()...)...),
		Action: runSeed,
	}
}

func runSeed(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef(c, "seed needs at least one FILE.torrent")
	}
	log := logger(c)
	base, err := swarmConfig(c, log)
	if err != nil {
		return err
	}
	// The torrents first: a bad one is reported before any network use.
	mis := make([]*metainfo.MetaInfo, 0, c.NArg())
	public := false
	for _, path := range c.Args().Slice() {
		mi, err := metainfo.Load(path)
		if err != nil {
			return err
		}
		mis = append(mis, mi)
		public = public || !mi.Info.Private
	}
	if c.Bool("from-cache") { // the session holding the cache seeds them
		if _, err := cacheSize(c); err != nil {
			return err
		}
		return runHolderClient(c, holderRequest{Op: "seed", Torrents: absPaths(c.Args().Slice()), Metrics: c.String("metrics")})
	}
	metrics, err := maybeStartMetrics(c, log)
	if err != nil {
		return err
	}
	defer metrics.Close()
	var stores []*filestore.Store
	defer func() { // after the session has stopped the torrents
		for _, s := range stores {
			s.Close()
		}
	}()
	sess, err := startSession(c, log, base, nil, portState(c, c.String("cache-dir")), public)
	if err != nil {
		return err
	}
	defer sess.Close()
	for i, mi := range mis {
		store := filestore.Open(c.String("data"), &mi.Info, false)
		stores = append(stores, store)
		have, err := checkStorage(c, mi, store)
		if err != nil {
			return err
		}
		if have.FirstBad >= 0 {
			return fmt.Errorf("%s: %s", filepath.Base(c.Args().Get(i)), describeBadPiece(mi, store, have))
		}
		if _, err := sess.Add(c.Context, session.Spec{MetaInfo: mi, Storage: store, Have: have.Have}); err != nil {
			return err
		}
		log.Info("seeding", "name", mi.Info.Name, "info_hash", mi.InfoHash)
	}
	metrics.Register(newTorrentCollector(sessionTorrents(sess)))
	defer metrics.Close() // before the torrents and the stores it reads stop
	fmt.Fprintf(c.App.ErrWriter, "seeding %d torrent(s) on port %d; Ctrl-C to stop\n", len(mis), sess.Port())
	<-c.Context.Done()
	return nil
}

// describeBadPiece names the first bad piece and the file it starts in.
func describeBadPiece(mi *metainfo.MetaInfo, store *filestore.Store, have fetch.CheckResult) string {
	i := have.FirstBad
	fi := mi.Info.FileAt(mi.Info.PieceOffset(i))
	return fmt.Sprintf("piece %d of %d (in %s at byte %d) is missing or wrong: %v; %d of %d pieces are good",
		i, mi.Info.NumPieces(), store.Path(fi), mi.Info.PieceOffset(i)-mi.Info.Files[fi].Offset, have.BadErr,
		have.Have.Count(), mi.Info.NumPieces())
}
