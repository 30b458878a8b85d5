package fs

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/btfs/btfs/metainfo"
)

// file is one file of a torrent.
type file struct {
	gofs.Inode
	noXattrs
	r *root
	e *entry
	f *metainfo.File
}

var (
	_ = (gofs.NodeOpener)((*file)(nil))
	_ = (gofs.NodeGetattrer)((*file)(nil))
	_ = (gofs.NodeReader)((*file)(nil))
	_ = (gofs.NodeReleaser)((*file)(nil))
)

func (n *file) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o444
	if n.f.Attr&metainfo.AttrExecutable != 0 {
		out.Mode |= 0o111
	}
	out.Size = uint64(n.f.Length)
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = statfsBlock
	n.r.fillAttr(&out.Attr)
	return 0
}

// handle is an open file: its Reader holds the readahead state, so two
// handles on one file (players often open twice) keep their own.
type handle struct {
	key    string       // the torrent's, for OpenFiles
	path   string       // for OpenFiles
	pos    atomic.Int64 // the end of the last read, for OpenFiles
	mu     sync.Mutex   // guards closed
	reader Reader
	closed bool
	asks   asks // the ranges asked for and not yet served, for ReadTimeout
}

// Open refuses writers (the mount is read-only) and gives each handle its
// own Reader. Content never changes: the kernel keeps its page cache.
func (n *file) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	h := &handle{key: n.e.key, path: n.path(), reader: n.e.src.Open(n.f.Offset, n.f.Length)}
	if !n.r.track(h) {
		h.close()
		return nil, 0, syscall.EIO
	}
	return h, fuse.FOPEN_KEEP_CACHE, 0
}

// path is the file's path under the mountpoint, below the name its torrent
// is shown under.
func (n *file) path() string {
	if !n.e.info.MultiFile {
		return n.e.name
	}
	return n.e.name + "/" + strings.Join(n.f.Path, "/")
}

// close closes the handle's reader once.
func (h *handle) close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	return h.reader.Close()
}

// Read serves a read with the request's context: an interrupt (Ctrl-C in
// the reader) ends the wait with EINTR, a ReadTimeout with EIO.
func (n *file) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, ok := fh.(*handle)
	if !ok {
		return nil, syscall.EBADF
	}
	var start time.Time
	if n.r.opts.OnRead != nil { // no clock reads on the hot path without metrics
		start = time.Now()
	}
	data, err := n.read(ctx, h, dest, off)
	if n.r.opts.OnRead != nil {
		n.r.opts.OnRead(time.Since(start), len(data), err)
	}
	if err != nil {
		e := errno(err)
		if e != syscall.EINTR {
			n.r.opts.Logger.Warn("read failed", "file", h.path, "offset", off, "size", len(dest), "err", err)
		}
		return nil, e
	}
	return fuse.ReadResultData(data), 0
}

// read fills dest from off through h's reader; an error means the read
// fails as a whole. A ReadTimeout counts from the first time the range was
// asked for on h (asks), across interrupts and the kernel's retries.
func (n *file) read(ctx context.Context, h *handle, dest []byte, off int64) (_ []byte, err error) {
	if off >= n.f.Length {
		return nil, nil
	}
	dest = dest[:min(int64(len(dest)), n.f.Length-off)]
	if n.r.opts.ReadTimeout > 0 {
		k := h.asks.begin(off, off+int64(len(dest)), time.Now())
		defer func() { h.asks.done(k, err == nil, time.Now()) }()
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, k.first.Add(n.r.opts.ReadTimeout))
		defer cancel()
	}
	got, err := h.reader.ReadAt(ctx, dest, off)
	if err != nil && got < len(dest) {
		return nil, err
	}
	h.pos.Store(off + int64(got))
	return dest[:got], nil
}

// state is the handle as OpenFiles shows it.
func (h *handle) state() OpenFile {
	f := OpenFile{Key: h.key, Path: h.path, Pos: h.pos.Load()}
	if rr, ok := h.reader.(ReadaheadReporter); ok {
		f.Pos, f.Readahead = rr.Readahead()
	}
	return f
}

func (n *file) Release(ctx context.Context, fh gofs.FileHandle) syscall.Errno {
	h, ok := fh.(*handle)
	if !ok {
		return 0
	}
	n.r.untrack(h)
	return errno(h.close())
}

// track registers an open handle; false once the mount is closing.
func (r *root) track(h *handle) bool {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	if r.closing {
		return false
	}
	r.handles[h] = struct{}{}
	return true
}

func (r *root) untrack(h *handle) {
	r.hmu.Lock()
	delete(r.handles, h)
	r.hmu.Unlock()
}

// closeHandles ends every open handle's reads (blocked ones return EIO), so
// that an unmount is not held up by readers waiting for data.
func (r *root) closeHandles() {
	r.hmu.Lock()
	r.closing = true
	hs := make([]*handle, 0, len(r.handles))
	for h := range r.handles {
		hs = append(hs, h)
	}
	r.hmu.Unlock()
	for _, h := range hs {
		h.close()
	}
}
