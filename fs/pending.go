package fs

import (
	"context"
	"errors"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/btfs/btfs/metainfo"
)

// PendingFile is the one entry of a mount made before the torrent's info is
// known (a magnet link whose metadata is still being fetched): a hidden file
// whose text says so. `ls` shows an empty directory at once; `ls -a` and
// `cat` tell why.
const PendingFile = ".btfs-metadata-pending"

// MountPending mounts a directory at mountpoint that holds only
// PendingFile, whose content is note, until Populate shows the torrent's
// files. Lookups and listings answer at once meanwhile: nothing waits for
// the info.
func MountPending(mountpoint, note string, opts Options) (*Mounted, error) {
	r := newRoot(opts)
	r.note = note
	return mountRoot(mountpoint, r)
}

// errPopulated is returned by a second Populate, or one of a mount made by
// Mount.
var errPopulated = errors.New("fs: the mount already shows a torrent")

// Populate shows info's files, read through src, in a mount made by
// MountPending, and removes PendingFile. The kernel is told to forget what
// it cached of the root (its listing, and the names it looked up and did
// not find), so the files show at once.
func (m *Mounted) Populate(info *metainfo.Info, src Source) error {
	r := m.root
	c := &content{info: info, src: src}
	if !r.content.CompareAndSwap(nil, c) {
		return errPopulated
	}
	r.build(context.Background(), c)
	r.built.Store(true)
	if n := r.GetChild(PendingFile); n != nil {
		r.RmChild(PendingFile)
		r.NotifyDelete(PendingFile, n)
	}
	// Errors mean the kernel had nothing cached (or is gone): nothing to do.
	for name := range r.Children() {
		r.NotifyEntry(name)
	}
	r.NotifyContent(0, 0)
	return nil
}

// addNote adds PendingFile to the root.
func (r *root) addNote(ctx context.Context) {
	n := r.NewPersistentInode(ctx, &note{r: r, text: []byte(r.note)}, gofs.StableAttr{Mode: syscall.S_IFREG})
	r.AddChild(PendingFile, n, false)
}

// note is PendingFile: a few lines of text.
type note struct {
	gofs.Inode
	r    *root
	text []byte
}

var (
	_ = (gofs.NodeOpener)((*note)(nil))
	_ = (gofs.NodeGetattrer)((*note)(nil))
	_ = (gofs.NodeReader)((*note)(nil))
)

func (n *note) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o444
	out.Size = uint64(len(n.text))
	n.r.setTimes(&out.Attr)
	return 0
}

func (n *note) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

func (n *note) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(len(n.text)) {
		return fuse.ReadResultData(nil), 0
	}
	return fuse.ReadResultData(n.text[off:min(int64(len(n.text)), off+int64(len(dest)))]), 0
}

// Lookup finds a child of the root, as go-fuse does for a directory without
// Lookup, but while the tree is not built the kernel is told not to keep
// the answer "no such name" (a NegativeTimeout of 1 ns, as 0 means the
// mount's hour): the name may come with the info a moment later, and a
// lookup answered just before Populate would otherwise hide it.
func (r *root) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	settled := r.built.Load() // before the look: a tree built after it may have the name
	child := r.GetChild(name)
	if child == nil {
		if !settled {
			out.SetEntryTimeout(time.Nanosecond)
		}
		return nil, syscall.ENOENT
	}
	if ga, ok := child.Operations().(gofs.NodeGetattrer); ok {
		var a fuse.AttrOut
		if ga.Getattr(ctx, nil, &a) == 0 {
			out.Attr = a.Attr
		}
	}
	return child, 0
}
