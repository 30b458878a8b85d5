package main

import (
	"log/slog"

	"github.com/btfs/btfs/dht"
	"github.com/btfs/btfs/magnet"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/session"
	"github.com/btfs/btfs/wire"
	"github.com/urfave/cli/v2"
)

// loadTorrentArg reads a command's torrent argument: a .torrent file, or a
// magnet link (parsed; its metadata is fetched later).
func loadTorrentArg(arg string) (*metainfo.MetaInfo, *magnet.Link, error) {
	return session.LoadTorrentArg(arg)
}

// metadataTimeoutFlag bounds the wait for a magnet link's metadata.
func metadataTimeoutFlag() cli.Flag {
	return &cli.DurationFlag{Name: "metadata-timeout",
		Usage: "for a magnet link: give up after waiting `DUR` for its metadata (0: keep trying until interrupted)"}
}

// fetchMagnet fetches the torrent of a command's magnet link, announcing
// port, within --metadata-timeout; node is the DHT's (or nil). On failure
// the trackers that heard of us are told we are gone.
func fetchMagnet(c *cli.Context, link magnet.Link, peerID wire.PeerID, port int, node *dht.Node, log *slog.Logger) (*metainfo.MetaInfo, *session.MagnetFetch, error) {
	dial, err := peerDialer(c) // info has no --encryption: prefer
	if err != nil {
		return nil, nil, err
	}
	mf, err := session.NewMagnetFetch(link, peerID, port, node, dial, log)
	if err != nil {
		return nil, nil, err
	}
	mi, err := mf.Fetch(c.Context, c.Duration("metadata-timeout"))
	if err != nil {
		mf.Stop()
	}
	return mi, mf, err
}
