package fs

import (
	"context"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/btfs/btfs/metainfo"
)

// root is the mount's top directory. Its children are built once: in
// OnAdd, or in Populate for a mount made before the torrent's info was known
// (MountPending), which shows a note until then.
type root struct {
	gofs.Inode
	content atomic.Pointer[content] // nil until the info is known
	built   atomic.Bool             // the tree of content is complete (Lookup)
	note    string                  // the text of PendingFile, until then
	opts    Options

	mu      sync.Mutex // guards handles and closing
	handles map[*handle]struct{}
	closing bool // unmounting: open files fail
}

// track registers an open handle; false once the mount is closing.
func (r *root) track(h *handle) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return false
	}
	r.handles[h] = struct{}{}
	return true
}

func (r *root) untrack(h *handle) {
	r.mu.Lock()
	delete(r.handles, h)
	r.mu.Unlock()
}

// closeHandles ends every open handle's reads (blocked ones return EIO), so
// that an unmount is not held up by readers waiting for data.
func (r *root) closeHandles() {
	r.mu.Lock()
	r.closing = true
	hs := make([]*handle, 0, len(r.handles))
	for h := range r.handles {
		hs = append(hs, h)
	}
	r.mu.Unlock()
	for _, h := range hs {
		h.close()
	}
}

// content is what the tree shows: a torrent's files and where their bytes
// come from. It never changes once set.
type content struct {
	info *metainfo.Info
	src  Source
}

var (
	_ = (gofs.NodeOnAdder)((*root)(nil))
	_ = (gofs.NodeLookuper)((*root)(nil))
	_ = (gofs.NodeStatfser)((*root)(nil))
	_ = (gofs.NodeGetattrer)((*root)(nil))
)

// dir is a directory of the torrent.
type dir struct {
	gofs.Inode
	r *root
}

var _ = (gofs.NodeGetattrer)((*dir)(nil))

// link is a BEP 47 symlink, pointing inside the torrent.
type link struct {
	gofs.Inode
	r      *root
	target string
}

var (
	_ = (gofs.NodeReadlinker)((*link)(nil))
	_ = (gofs.NodeGetattrer)((*link)(nil))
)

// OnAdd builds the tree, or shows the note of a pending mount.
func (r *root) OnAdd(ctx context.Context) {
	if c := r.content.Load(); c != nil {
		r.build(ctx, c)
		r.built.Store(true)
		return
	}
	r.addNote(ctx)
}

// build makes the tree of c under the root: the paths a multi-file torrent
// shows under its name, or the single file at the top, as johang/btfs and
// other clients lay them out. Pad files are not shown.
func (r *root) build(ctx context.Context, c *content) {
	files := c.info.Files
	nextDirIno := uint64(len(files)) + 2 // files take 2..len+1, by index: stable across mounts
	dirs := map[string]*gofs.Inode{"": &r.Inode}
	var mkdirs func(p string) *gofs.Inode
	mkdirs = func(p string) *gofs.Inode {
		if n := dirs[p]; n != nil {
			return n
		}
		parentPath := path.Dir(p)
		if parentPath == "." {
			parentPath = ""
		}
		parent := mkdirs(parentPath)
		n := parent.NewPersistentInode(ctx, &dir{r: r}, gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: nextDirIno})
		nextDirIno++
		parent.AddChild(path.Base(p), n, false)
		dirs[p] = n
		return n
	}
	for i := range files {
		f := &files[i]
		if f.IsPad() {
			continue
		}
		p := c.info.DisplayPath(f)
		d := path.Dir(p)
		if d == "." {
			d = ""
		}
		parent := mkdirs(d)
		ino := uint64(i) + 2
		var node gofs.InodeEmbedder
		mode := uint32(syscall.S_IFREG)
		if f.IsSymlink() {
			node, mode = &link{r: r, target: relativeTarget(c.info, p, f.SymlinkTarget)}, syscall.S_IFLNK
		} else {
			node = &file{r: r, c: c, f: f}
		}
		parent.AddChild(path.Base(p), parent.NewPersistentInode(ctx, node, gofs.StableAttr{Mode: mode, Ino: ino}), false)
	}
}

// relativeTarget turns a symlink's target (relative to the torrent's root)
// into a path relative to the link's own directory, so it resolves inside
// the mount wherever the mount is.
func relativeTarget(info *metainfo.Info, linkPath string, target []string) string {
	to := target
	if info.MultiFile {
		to = append([]string{info.Name}, target...)
	}
	from := strings.Split(path.Dir(linkPath), "/")
	if from[0] == "." {
		from = nil
	}
	common := 0
	for common < len(from) && common < len(to)-1 && from[common] == to[common] {
		common++
	}
	rel := strings.Repeat("../", len(from)-common) + strings.Join(to[common:], "/")
	return rel
}

func (r *root) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	r.dirAttr(&out.Attr)
	return 0
}

func (d *dir) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.r.dirAttr(&out.Attr)
	return 0
}

func (r *root) dirAttr(a *fuse.Attr) {
	a.Mode = syscall.S_IFDIR | 0o555
	r.setTimes(a)
}

func (r *root) setTimes(a *fuse.Attr) {
	t := r.opts.MTime
	a.SetTimes(&t, &t, &t)
}

func (l *link) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	return []byte(l.target), 0
}

func (l *link) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFLNK | 0o777
	out.Size = uint64(len(l.target))
	l.r.setTimes(&out.Attr)
	return 0
}

// statfsBlock is the block size reported by statfs.
const statfsBlock = 4096

// Statfs reports the torrent's size as the filesystem's, all of it used
// (nothing while the info is not known).
func (r *root) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.Bsize, out.Frsize = statfsBlock, statfsBlock
	c := r.content.Load()
	if c == nil {
		return 0
	}
	blocks := uint64((c.info.Length + statfsBlock - 1) / statfsBlock)
	out.Blocks, out.Bfree, out.Bavail = blocks, 0, 0
	out.Files = uint64(len(c.info.Files))
	out.NameLen = metainfo.MaxElementLength
	return 0
}
