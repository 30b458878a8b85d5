package main

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/btfs/btfs/filestore"
	"github.com/btfs/btfs/internal/bytesize"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/session"
	"github.com/urfave/cli/v2"
)

func getCommand() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "download a whole torrent into a directory",
		ArgsUsage: "FILE.torrent|MAGNET",
		Description: "Downloads every piece from the peers that the torrent's trackers, the DHT and PEX name,\n" +
			"verifying each against its SHA-1, into DIR with the files laid out as in the torrent. Data\n" +
			"already in DIR is checked first and kept (resume). Exits 0 when the download is complete; with\n" +
			"--seed, keeps seeding until interrupted (Ctrl-C).\n\n" +
			"For a magnet link, the metadata comes first from the link's peers (x.pe) and the peers its\n" +
			"trackers (tr) and the DHT name (see 'btfs help info'); then those peers serve the data.\n\n" +
			dhtHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: ".", Usage: "download into `DIR`"},
			&cli.BoolFlag{Name: "seed", Usage: "keep seeding after the download completes, until interrupted"},
			metadataTimeoutFlag(),
		}, swarmFlags()...),
		Action: runGet,
	}
}

func runGet(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef(c, "get needs exactly one FILE.torrent or MAGNET, got %d arguments", c.NArg())
	}
	log := logger(c)
	base, err := swarmConfig(c, log)
	if err != nil {
		return err
	}
	// The argument first: a bad one is reported before any network use.
	mi, link, err := loadTorrentArg(c.Args().First())
	if err != nil {
		return err
	}
	// The session next: a magnet link's metadata fetch announces our port.
	sess, err := startSession(c, log, base, nil, portState(c, defaultCacheDir()), mi == nil || !mi.Info.Private)
	if err != nil {
		return err
	}
	defer sess.Close() // the torrent says "stopped" first
	var peers []netip.AddrPort
	if link != nil {
		mi, mf, err := fetchMagnet(c, *link, sess.PeerID(), sess.Port(), sess.DHT(), log)
		if err != nil {
			return err
		}
		peers = mf.Peers(c.Context)
		return download(c, sess, mi, peers)
	}
	return download(c, sess, mi, peers)
}

// download fetches mi into --output on sess, with peers to dial besides
// those the swarm names.
func download(c *cli.Context, sess *session.Session, mi *metainfo.MetaInfo, peers []netip.AddrPort) error {
	log := logger(c)
	store := filestore.Open(c.String("output"), &mi.Info, true)
	defer store.Close()
	have, err := checkStorage(c, mi, store)
	if err != nil {
		return err
	}
	if n := have.Have.Count(); n > 0 {
		log.Info("resuming", "pieces", n, "of", mi.Info.NumPieces())
	}
	tor, err := sess.Add(c.Context, session.Spec{MetaInfo: mi, Storage: store, Have: have.Have, WantAll: true, Peers: peers})
	if err != nil {
		return err
	}
	defer sess.Remove(tor.Key()) // before the store closes
	t := tor.Engine()

	bar := newProgress(c.App.ErrWriter, mi.Info.Length, mi.Info.Name)
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	start := time.Now()
	for done := false; !done; {
		select {
		case <-c.Context.Done():
			bar.Finish()
			return fmt.Errorf("interrupted; run the same command again to resume")
		case <-t.Done():
			done = true
		case err := <-t.StoreErrors():
			bar.Finish()
			return fmt.Errorf("cannot write the download into %s: %w; what is stored is kept, run the same command again to resume",
				c.String("output"), err)
		case <-ticker.C:
			if s, err := t.Stats(c.Context); err == nil {
				bar.Describe(fmt.Sprintf("%s  %d peers", mi.Info.Name, s.Peers))
				bar.Set(s.Length - s.Left)
			}
		}
	}
	bar.Finish()
	if err := store.Finish(); err != nil {
		return err
	}
	elapsed := time.Since(start)
	s, _ := t.Stats(c.Context)
	fmt.Fprintf(c.App.Writer, "%s: complete, %s downloaded in %s (%s/s)\n", mi.Info.Name,
		bytesize.Format(s.Downloaded), elapsed.Round(time.Millisecond), bytesize.Format(int64(float64(s.Downloaded)/max(elapsed.Seconds(), 0.001))))
	if c.Bool("seed") {
		log.Info("seeding; Ctrl-C to stop", "port", sess.Port())
		<-c.Context.Done()
	}
	return nil
}
