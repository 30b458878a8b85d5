package fs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/btfs/btfs/internal/holders"
	"github.com/btfs/btfs/metainfo"
)

// Kernel-side sizes: reads of up to maxRead bytes per request (fewer round
// trips for sequential readers), and kernel readahead up to the same, on top
// of which the Source does its own, piece-aware readahead.
const (
	maxRead      = 1 << 20
	maxReadAhead = 1 << 20
	// cacheTimeout is how long the kernel may trust names and attributes
	// inside a torrent: a torrent's tree never changes while shown (the
	// root's names, which do, have rootEntryTimeout and notifications).
	cacheTimeout = time.Hour
)

// fsName names the filesystem in the mount table (type "fuse.btfs").
const fsName = "btfs"

// fuseMount is a root at a mountpoint.
type fuseMount struct {
	server *fuse.Server
	root   *root
	dir    string
	absDir string // dir as the mount table shows it
	// detached is set once Unmount has detached the mount lazily, so that
	// Wait knows why it left the mount table.
	detached atomic.Bool
}

// Mounted is a mounted torrent: a library of one.
type Mounted struct {
	m *fuseMount
}

// singleKey is the key of the one torrent of a Mounted.
const singleKey = "torrent"

// Mount shows info's files at mountpoint, reading through src. It returns
// once the kernel has the mount; Unmount (or an outside umount) ends it.
func Mount(mountpoint string, info *metainfo.Info, src Source, opts Options) (*Mounted, error) {
	r := newRoot(opts)
	if _, err := r.add(singleKey, "", info, src); err != nil {
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	m, err := mountRoot(mountpoint, r)
	if err != nil {
		return nil, err
	}
	return &Mounted{m: m}, nil
}

// mountRoot puts r at mountpoint; from then on, its changes are told to
// the kernel.
func mountRoot(mountpoint string, r *root) (*fuseMount, error) {
	if err := CheckMountpoint(mountpoint); err != nil {
		return nil, err
	}
	opts := r.opts
	timeout := cacheTimeout
	server, err := gofs.Mount(mountpoint, r, &gofs.Options{
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		MountOptions: fuse.MountOptions{
			FsName:       fsName,
			Name:         fsName,
			Options:      []string{"ro", "default_permissions"},
			AllowOther:   opts.AllowOther,
			MaxWrite:     maxRead,
			MaxReadAhead: maxReadAhead,
			DirectMount:  true, // as root: mount(2) itself; otherwise fusermount3
			// Sync reads: the kernel sends every READ, its readahead too,
			// from the thread that needs the data, and waits for it
			// interruptibly. With async reads the readahead READ is the
			// kernel's own, no signal reaches it, and a reader waiting on
			// its pages ends only when killed: Ctrl-C of a program that
			// handles SIGINT (Python, players) would not end the wait.
			// Reads served from the cache lose little (measured: within
			// the noise of 400-800 MB/s, sequential, 2 cores).
			SyncRead: true,
			Debug:    opts.Debug,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	r.live.Store(true)
	return &fuseMount{server: server, root: r, dir: mountpoint, absDir: absMountpoint(mountpoint)}, nil
}

// CheckMountpoint explains, before the kernel does it less clearly, why a
// directory cannot take a mount.
func CheckMountpoint(dir string) error {
	stale := fmt.Errorf("mount: %s is a stale mount (transport endpoint is not connected): "+
		"run 'btfs unmount %s' or 'fusermount3 -u %s', then mount again", dir, dir, dir)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, syscall.ENOTCONN):
		return stale
	case errors.Is(err, iofs.ErrNotExist):
		return fmt.Errorf("mount: %s does not exist: create the directory first (mkdir -p %s)", dir, dir)
	case err != nil:
		return fmt.Errorf("mount: %w", err)
	case !st.IsDir():
		return fmt.Errorf("mount: %s is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, syscall.ENOTCONN) { // the kernel may still answer stat for a dead mount
		return stale
	}
	if err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("mount: %s is not empty (%d entries): mount on an empty directory so nothing is hidden", dir, len(entries))
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("mount: /dev/fuse is missing: load the fuse module (modprobe fuse), or give a container the device (--device /dev/fuse)")
	}
	return nil
}

// Unmount detaches the filesystem. Open files hold a mount busy: they are
// closed on our side first (reads waiting for data end with EIO), and if
// some process still keeps the mount busy (a shell inside it), it is
// detached lazily: it vanishes at once, and the kernel lets go when the last
// file is closed.
func (m *Mounted) Unmount() error { return m.m.unmount() }

func (m *fuseMount) unmount() error {
	if m.server.Unmount() == nil {
		return nil
	}
	m.root.closeHandles()
	if m.server.Unmount() == nil {
		return nil
	}
	who := "processes this user cannot see"
	if ps, more, err := holders.Find(m.absDir); err == nil && len(ps) > 0 {
		who = holders.Describe(ps, more)
	}
	m.detached.Store(true)
	// A lazy detach does not wait for anything: no context to bound it.
	if err := Detach(context.Background(), m.dir, true); err != nil {
		m.detached.Store(false)
		return err
	}
	m.root.opts.Logger.Warn("mount still in use: detached lazily; what still uses it fails once btfs exits",
		"mountpoint", m.dir, "used_by", who)
	return nil
}

// OpenFiles lists the files open in the mount, one entry per open handle,
// by path.
func (m *Mounted) OpenFiles() []OpenFile { return m.m.openFiles() }

func (m *fuseMount) openFiles() []OpenFile {
	m.root.hmu.Lock()
	hs := make([]*handle, 0, len(m.root.handles))
	for h := range m.root.handles {
		hs = append(hs, h)
	}
	m.root.hmu.Unlock()
	files := make([]OpenFile, 0, len(hs))
	for _, h := range hs {
		files = append(files, h.state())
	}
	slices.SortFunc(files, func(a, b OpenFile) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Pos, b.Pos))
	})
	return files
}

// Wait blocks until the filesystem is unmounted (by Unmount, umount or
// fusermount3 -u) and the kernel has let go of it, or until the mount is
// gone from this process's mount table while the kernel still holds on: a
// copy of it lives on in another mount namespace (made by unshare -m, a
// container start), which nothing here can reach or end. The caller then
// exits, and closing the FUSE device fails what is left.
func (m *Mounted) Wait() { m.m.wait() }

func (m *fuseMount) wait() {
	done := make(chan struct{})
	go func() { m.server.Wait(); close(done) }()
	tick := time.NewTicker(goneCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			if mounted, err := btfsMountedAt(m.absDir); err == nil && !mounted {
				select {
				case <-done: // the usual unmount, a moment behind the table
					return
				case <-time.After(goneCheckEvery):
				}
				if !m.detached.Load() { // Unmount said why already
					m.root.opts.Logger.Warn("mount gone from the mount table while the kernel still holds it: "+
						"detached lazily (btfs unmount --lazy, umount -l) while in use, or kept open by a copy in "+
						"another mount namespace; exiting, which fails what still uses it", "mountpoint", m.dir)
				}
				return
			}
		}
	}
}

// goneCheckEvery paces Wait's look at the mount table.
const goneCheckEvery = time.Second
