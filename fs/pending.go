package fs

import (
	"context"
	"fmt"
	"syscall"

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
	if _, err := r.addPending(singleKey, PendingFile, note); err != nil {
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	m, err := mountRoot(mountpoint, r)
	if err != nil {
		return nil, err
	}
	return &Mounted{m: m}, nil
}

// Populate shows info's files, read through src, in a mount made by
// MountPending, in place of PendingFile (see Library.Populate). It fails in
// a mount that shows them already.
func (m *Mounted) Populate(info *metainfo.Info, src Source) error {
	return m.m.root.populate(singleKey, info, src)
}

// addPending shows a note named name in place of key's torrent.
func (r *root) addPending(key, name, note string) (string, error) {
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("fs: add %s: %w", key, err)
	}
	return r.show(key, name, nil, nil, []byte(note))
}

// populate replaces key's note by its torrent's files: the note goes
// first, and the kernel is told, before the files are shown, so that
// nobody sees both.
func (r *root) populate(key string, info *metainfo.Info, src Source) error {
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	r.mu.Lock()
	e := r.byKey[key]
	r.mu.Unlock()
	switch {
	case e == nil:
		return fmt.Errorf("fs: populate %s: %w", key, ErrUnknown)
	case e.info != nil:
		return fmt.Errorf("fs: populate %s: %w", key, ErrNotPending)
	}
	if err := checkInfo(info); err != nil {
		return fmt.Errorf("fs: populate %s: %w", key, err)
	}
	r.hide(e)
	_, err := r.show(key, topName(info), info, src, nil)
	return err
}

// note is PendingFile: a few lines of text.
type note struct {
	gofs.Inode
	noXattrs
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
	n.r.fillAttr(&out.Attr)
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
