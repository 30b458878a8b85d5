package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/filestore"
	"github.com/btfs/btfs/internal/bitfield"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
	"github.com/urfave/cli/v2"
)

// newPeerID makes our peer id: Azureus style, with a client code ("bf")
// that no other client uses.
func newPeerID() wire.PeerID { return wire.NewPeerID("-bf0001-") }

// mountStore is where a mount keeps verified pieces.
type mountStore interface {
	fetch.Storage
	Have() bitfield.Bitfield
	Close() error
}

// storageFlags are the flags of the piece store behind a mount.
func storageFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "cache-dir", Value: defaultCacheDir(), Usage: "keep verified pieces under `DIR`"},
	}
}

func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "btfs")
	}
	return filepath.Join(os.TempDir(), "btfs-cache")
}

// fileStore adapts a filestore to a mountStore, checking what it holds once.
type fileStore struct {
	*filestore.Store
	have bitfield.Bitfield
}

func (s *fileStore) Have() bitfield.Bitfield { return s.have }

// openStorage opens the piece store for a mount.
func openStorage(c *cli.Context, mi *metainfo.MetaInfo) (mountStore, error) {
	dir := filepath.Join(c.String("cache-dir"), "files", mi.InfoHash.String())
	st := filestore.Open(dir, &mi.Info, true)
	res, err := fetch.Check(context.WithoutCancel(c.Context), &mi.Info, st, nil)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &fileStore{Store: st, have: res.Have}, nil
}
