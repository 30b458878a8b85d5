package main

import (
	"os"
	"path/filepath"

	"github.com/btfs/btfs/wire"
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
