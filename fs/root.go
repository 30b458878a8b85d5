package fs

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/btfs/btfs/metainfo"
)

// rootEntryTimeout is how long the kernel may keep what it learnt of a name
// at the root, found or not. Every change is notified at once; this only
// bounds a lookup's answer that crossed a change on its way to the kernel
// (a notification cannot overtake a reply already sent), which would
// otherwise stay for the mount's hour-long cacheTimeout.
const rootEntryTimeout = time.Second

// root is the mount's top directory: one entry per torrent shown.
//
// Lock order: changeMu, then mu; hmu stands alone. No lock is held while
// the kernel is notified but changeMu, so lookups answer meanwhile.
type root struct {
	gofs.Inode
	noXattrs
	opts  Options
	live  atomic.Bool  // mounted: changes are notified to the kernel
	mtime atomic.Int64 // unix nanoseconds of the last change once mounted; 0: opts.MTime

	// changeMu makes changes (and their notifications) one at a time, so the
	// kernel hears of them in the order they happen.
	changeMu sync.Mutex

	mu     sync.Mutex // guards the fields below
	byKey  map[string]*entry
	byName map[string]*entry
	bases  map[uint64]bool // inode bases in use (inoBase)
	gen    uint64          // counts entries shown, for StableAttr.Gen
	list   []fuse.DirEntry // the root's listing, sorted; nil after a change
	length int64           // bytes of the torrents shown, for statfs
	files  uint64          // their files

	hmu     sync.Mutex // guards handles and closing
	handles map[*handle]struct{}
	closing bool // unmounting: open files fail
}

// entry is one torrent at the root. It never changes once shown: Populate
// replaces a pending torrent's entry with a new one.
type entry struct {
	key  string
	name string // as shown
	base uint64 // inode numbers are base<<inoIndexBits + index
	gen  uint64 // tells this showing from earlier ones of the key, whose nodes open handles may still hold
	note []byte // a pending torrent's note (its info is not known yet)
	info *metainfo.Info
	src  Source

	once sync.Once
	idx  *index // a multi-file torrent's directories, built on the first look inside
}

var (
	_ = (gofs.NodeLookuper)((*root)(nil))
	_ = (gofs.NodeReaddirer)((*root)(nil))
	_ = (gofs.NodeStatfser)((*root)(nil))
	_ = (gofs.NodeGetattrer)((*root)(nil))
)

// newRoot makes an empty root with opts' defaults filled in.
func newRoot(opts Options) *root {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MTime.IsZero() {
		opts.MTime = time.Now()
	}
	return &root{opts: opts, byKey: map[string]*entry{}, byName: map[string]*entry{},
		bases: map[uint64]bool{}, handles: map[*handle]struct{}{}}
}

// ino is the inode number of the torrent's entry number i (0 lets go-fuse
// choose, for a torrent too big for stable numbers).
func (e *entry) ino(i int) uint64 {
	if i >= 1<<inoIndexBits {
		return 0
	}
	return e.base<<inoIndexBits | uint64(i)
}

// isFile says whether the entry at the root is a file (a note, or a
// single-file torrent's file) rather than a directory.
func (e *entry) isFile() bool { return e.info == nil || !e.info.MultiFile }

// topName is the name a torrent's info gives its top entry.
func topName(info *metainfo.Info) string {
	if !info.MultiFile && len(info.Files) > 0 {
		return info.Files[0].Path[0]
	}
	return info.Name
}

// Lookup finds a torrent's top entry by its name. Neither found nor missing
// names are kept long by the kernel (rootEntryTimeout).
func (r *root) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	out.SetEntryTimeout(rootEntryTimeout)
	r.mu.Lock()
	e := r.byName[name]
	r.mu.Unlock()
	if e == nil {
		return nil, syscall.ENOENT
	}
	return r.top(ctx, e, out), 0
}

// top makes the node of e's top entry, with its attributes in out.
func (r *root) top(ctx context.Context, e *entry, out *fuse.EntryOut) *gofs.Inode {
	var node gofs.InodeEmbedder
	var ch *gofs.Inode
	switch {
	case e.info == nil:
		node = &note{r: r, text: e.note}
		ch = r.NewInode(ctx, node, gofs.StableAttr{Mode: syscall.S_IFREG, Ino: e.ino(0), Gen: e.gen})
	case e.info.MultiFile:
		node = &dir{r: r, e: e}
		ch = r.NewInode(ctx, node, gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: e.ino(0), Gen: e.gen})
	default:
		ch = newFileNode(ctx, &r.Inode, r, e, 0)
		node = ch.Operations()
	}
	var a fuse.AttrOut
	if node.(gofs.NodeGetattrer).Getattr(ctx, nil, &a) == 0 {
		out.Attr = a.Attr
	}
	return ch
}

// Readdir lists the torrents shown, as they are at the call.
func (r *root) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.list == nil {
		r.list = make([]fuse.DirEntry, 0, len(r.byName))
		for name, e := range r.byName {
			mode, i := uint32(syscall.S_IFDIR), 0
			if e.isFile() {
				mode = syscall.S_IFREG
				if e.info != nil {
					i = 1
				}
			}
			r.list = append(r.list, fuse.DirEntry{Name: name, Mode: mode, Ino: e.ino(i)})
		}
		slices.SortFunc(r.list, func(a, b fuse.DirEntry) int { return strings.Compare(a.Name, b.Name) })
	}
	return gofs.NewListDirStream(r.list), 0
}

func (r *root) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFDIR | 0o555
	t := r.opts.MTime
	if ns := r.mtime.Load(); ns != 0 {
		t = time.Unix(0, ns) // a library's scanner looks at the root's mtime for changes
	}
	out.SetTimes(&t, &t, &t)
	out.Nlink = 1
	return 0
}

// fillAttr gives a torrent's entry the mount's time and one link (a
// directory too: 1 tells find that its subdirectories are not counted).
func (r *root) fillAttr(a *fuse.Attr) {
	t := r.opts.MTime
	a.SetTimes(&t, &t, &t)
	a.Nlink = 1
}

// statfsBlock is the block size reported by statfs.
const statfsBlock = 4096

// Statfs reports the torrents' size as the filesystem's, all of it used.
func (r *root) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	r.mu.Lock()
	length, files := r.length, r.files
	r.mu.Unlock()
	out.Bsize, out.Frsize = statfsBlock, statfsBlock
	blocks := uint64((length + statfsBlock - 1) / statfsBlock)
	out.Blocks, out.Bfree, out.Bavail = blocks, 0, 0
	out.Files = files
	out.NameLen = metainfo.MaxElementLength
	return 0
}
