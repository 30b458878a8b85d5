package fs

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/btfs/btfs/metainfo"
)

// Kernel-side sizes: reads of up to maxRead bytes per request (fewer round
// trips for sequential readers), and kernel readahead up to the same, on top
// of which the Source does its own, piece-aware readahead.
const (
	maxRead      = 1 << 20
	maxReadAhead = 1 << 20
	// cacheTimeout is how long the kernel may trust names and attributes:
	// the tree never changes while mounted.
	cacheTimeout = time.Hour
)

// Mounted is a mounted torrent.
type Mounted struct {
	server *fuse.Server
	dir    string
}

// Mount shows info's files at mountpoint, reading through src. It returns
// once the kernel has the mount; Unmount (or an outside umount) ends it.
func Mount(mountpoint string, info *metainfo.Info, src Source, opts Options) (*Mounted, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MTime.IsZero() {
		opts.MTime = time.Now()
	}
	st, err := os.Stat(mountpoint)
	if err != nil {
		return nil, fmt.Errorf("mount: %w (create the directory first)", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("mount: %s is not a directory", mountpoint)
	}
	timeout := cacheTimeout
	r := &root{info: info, src: src, opts: opts}
	server, err := gofs.Mount(mountpoint, r, &gofs.Options{
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		MountOptions: fuse.MountOptions{
			FsName:       "btfs",
			Name:         "btfs",
			Options:      []string{"ro", "default_permissions"},
			AllowOther:   opts.AllowOther,
			MaxWrite:     maxRead,
			MaxReadAhead: maxReadAhead,
			DirectMount:  true, // as root: mount(2) itself; otherwise fusermount3
			Debug:        opts.Debug,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	return &Mounted{server: server, dir: mountpoint}, nil
}

// Unmount detaches the filesystem; reads in progress end with an error.
func (m *Mounted) Unmount() error {
	if err := m.server.Unmount(); err != nil {
		return fmt.Errorf("unmount %s: %w", m.dir, err)
	}
	return nil
}

// Wait blocks until the filesystem is unmounted (by Unmount, umount or
// fusermount3 -u).
func (m *Mounted) Wait() { m.server.Wait() }
