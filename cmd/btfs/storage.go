package main

import (
	"os"
	"path/filepath"

	"github.com/btfs/btfs/cache"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
	"github.com/urfave/cli/v2"
)

// newPeerID makes our peer id: Azureus style, with a client code ("bf")
// that no other client uses.
func newPeerID() wire.PeerID { return wire.NewPeerID("-bf0001-") }

func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "btfs")
	}
	return filepath.Join(os.TempDir(), "btfs-cache")
}

// torrentCache is one torrent's pieces in the cache a mount opened for
// itself; closing it closes the cache.
type torrentCache struct {
	*cache.TorrentStore
	c *cache.Cache
}

func (s torrentCache) Close() error { return s.c.Close() }

// openTorrentCache opens the --cache-dir cache and the torrent's pieces in it.
func openTorrentCache(c *cli.Context, mi *metainfo.MetaInfo) (torrentCache, error) {
	cc, err := openCache(c)
	if err != nil {
		return torrentCache{}, err
	}
	return torrentCache{TorrentStore: cc.Torrent(mi.InfoHash, &mi.Info), c: cc}, nil
}
