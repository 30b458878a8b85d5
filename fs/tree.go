package fs

import (
	"cmp"
	"context"
	"path"
	"slices"
	"strings"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/btfs/btfs/metainfo"
)

// index is a multi-file torrent's directories, each a list of entries
// sorted by name, the torrent's top directory first. It is built on the
// first look inside the torrent, so a library of torrents nobody opens
// holds their infos and nothing more.
type index struct {
	dirs [][]dent
}

// dent is one entry of a directory: file index i >= 0, or directory d.
type dent struct {
	name string
	file int32 // -1 for a directory
	dir  int32
}

// buildIndex lays out info's paths below the torrent's name, as johang/btfs
// and other clients do. Pad files are not shown; of two entries of one
// name, the first in the torrent wins (parsed torrents have none).
func buildIndex(info *metainfo.Info) *index {
	x := &index{dirs: [][]dent{nil}}
	ids := map[string]int32{}
	for i := range info.Files {
		f := &info.Files[i]
		if f.IsPad() || len(f.Path) == 0 {
			continue
		}
		parent := int32(0)
		for k := 1; k < len(f.Path); k++ {
			p := strings.Join(f.Path[:k], "/")
			id, ok := ids[p]
			if !ok {
				id = int32(len(x.dirs))
				x.dirs = append(x.dirs, nil)
				ids[p] = id
				x.dirs[parent] = append(x.dirs[parent], dent{name: f.Path[k-1], file: -1, dir: id})
			}
			parent = id
		}
		x.dirs[parent] = append(x.dirs[parent], dent{name: f.Path[len(f.Path)-1], file: int32(i)})
	}
	for d, ents := range x.dirs {
		slices.SortStableFunc(ents, func(a, b dent) int { return strings.Compare(a.name, b.name) })
		x.dirs[d] = slices.CompactFunc(ents, func(a, b dent) bool { return a.name == b.name })
	}
	return x
}

// index builds e's index once.
func (e *entry) index() *index {
	e.once.Do(func() { e.idx = buildIndex(e.info) })
	return e.idx
}

// inoIndex is the number within its torrent of a directory entry: 1+i for
// file i, after the files for directory d (d > 0), 0 for the top directory.
func (e *entry) inoIndex(de dent) int {
	if de.file >= 0 {
		return 1 + int(de.file)
	}
	if de.dir == 0 {
		return 0
	}
	return len(e.info.Files) + int(de.dir)
}

// dir is a directory of a torrent.
type dir struct {
	gofs.Inode
	noXattrs
	r *root
	e *entry
	d int32 // in e's index
}

var (
	_ = (gofs.NodeGetattrer)((*dir)(nil))
	_ = (gofs.NodeLookuper)((*dir)(nil))
	_ = (gofs.NodeReaddirer)((*dir)(nil))
)

func (d *dir) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFDIR | 0o555
	d.r.fillAttr(&out.Attr)
	return 0
}

func (d *dir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ents := d.e.index().dirs[d.d]
	i, found := slices.BinarySearchFunc(ents, name, func(de dent, name string) int { return cmp.Compare(de.name, name) })
	if !found {
		return nil, syscall.ENOENT
	}
	de := ents[i]
	var ch *gofs.Inode
	if de.file < 0 {
		ch = d.NewInode(ctx, &dir{r: d.r, e: d.e, d: de.dir},
			gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: d.e.ino(d.e.inoIndex(de)), Gen: d.e.gen})
	} else {
		ch = newFileNode(ctx, &d.Inode, d.r, d.e, int(de.file))
	}
	var a fuse.AttrOut
	if ch.Operations().(gofs.NodeGetattrer).Getattr(ctx, nil, &a) == 0 {
		out.Attr = a.Attr
	}
	return ch, 0
}

func (d *dir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ents := d.e.index().dirs[d.d]
	list := make([]fuse.DirEntry, len(ents))
	for i, de := range ents {
		mode := uint32(syscall.S_IFDIR)
		if de.file >= 0 {
			mode = syscall.S_IFREG
			if d.e.info.Files[de.file].IsSymlink() {
				mode = syscall.S_IFLNK
			}
		}
		list[i] = fuse.DirEntry{Name: de.name, Mode: mode, Ino: d.e.ino(d.e.inoIndex(de))}
	}
	return gofs.NewListDirStream(list), 0
}

// newFileNode makes the node of e's file i (a file or a BEP 47 symlink)
// for parent.
func newFileNode(ctx context.Context, parent *gofs.Inode, r *root, e *entry, i int) *gofs.Inode {
	f := &e.info.Files[i]
	id := gofs.StableAttr{Mode: syscall.S_IFREG, Ino: e.ino(e.inoIndex(dent{file: int32(i)})), Gen: e.gen}
	if f.IsSymlink() {
		id.Mode = syscall.S_IFLNK
		return parent.NewInode(ctx, &link{r: r, target: relativeTarget(e.info, e.info.DisplayPath(f), f.SymlinkTarget)}, id)
	}
	return parent.NewInode(ctx, &file{r: r, e: e, f: f}, id)
}

// link is a BEP 47 symlink, pointing inside the torrent.
type link struct {
	gofs.Inode
	noXattrs
	r      *root
	target string
}

var (
	_ = (gofs.NodeReadlinker)((*link)(nil))
	_ = (gofs.NodeGetattrer)((*link)(nil))
)

func (l *link) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	return []byte(l.target), 0
}

func (l *link) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFLNK | 0o777
	out.Size = uint64(len(l.target))
	l.r.fillAttr(&out.Attr)
	return 0
}

// relativeTarget turns a symlink's target (relative to the torrent's root)
// into a path relative to the link's own directory, so it resolves inside
// the mount wherever the mount is, and whatever name the torrent is shown
// under.
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
