// Package fs shows torrents as a read-only FUSE filesystem (go-fuse).
//
// It knows file offsets, not pieces or peers: each open handle gets a Reader
// from a Source for its file's byte range, and reads go to that Reader with
// the request's context. A mount is a Library: its root holds one entry per
// torrent (its directory, or its one file), added and removed while
// mounted, every change told to the kernel at once. A torrent's tree is
// laid out on the first look inside it, with inode numbers stable across
// mounts; its content never changes, so the kernel may cache it
// (FOPEN_KEEP_CACHE) and a second read of the same bytes never reaches us.
// A magnet link's torrent may be shown before its info is known
// (AddPending): a note stands in its place until the info comes (Populate).
// Mount and MountPending are libraries of one torrent.
package fs

import (
	"context"
	"errors"
	"log/slog"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
)

// Source provides the data of a torrent's files.
type Source interface {
	// Open returns a reader for the torrent bytes [off, off+length): one
	// file, as one open handle sees it. Readahead state lives in it.
	Open(off, length int64) Reader
}

// Reader reads one open file. ReadAt's offset is relative to the file. It
// blocks until the bytes are there, ctx ends, or the data cannot be had.
type Reader interface {
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)
	Close() error
}

// Options tune a mount.
type Options struct {
	// ReadTimeout bounds how long a read waits for data before it fails with
	// EIO, counted from the first time its range was asked for on the open
	// file: interrupts and the kernel's retries do not restart it (asks).
	// 0 waits as long as the reader does (media players prefer that).
	ReadTimeout time.Duration
	// AllowOther lets users other than the mounting one read the files
	// (needs user_allow_other in /etc/fuse.conf for non-root mounts).
	AllowOther bool
	// MTime is shown for every file and directory (the torrent's creation date).
	MTime  time.Time
	Logger *slog.Logger
	// Debug logs every FUSE request.
	Debug bool
	// OnRead, if set, is called after each read of a file, on the goroutine
	// serving it, with the time from the kernel's request to the reply, the
	// bytes returned and the error, if any (metrics). It must not block.
	OnRead func(d time.Duration, n int, err error)
}

// ReadaheadReporter is implemented by Readers that read ahead: pos is the
// file offset a sequential read continues from, ahead the bytes past it
// being fetched. OpenFiles shows it.
type ReadaheadReporter interface {
	Readahead() (pos, ahead int64)
}

// OpenFile is a file open in the mount, as OpenFiles shows it.
type OpenFile struct {
	Key  string // the torrent's (Library.Add's key)
	Path string // as shown under the mountpoint
	// Pos is where a sequential read continues (the end of the last read);
	// Readahead the bytes past it being fetched, 0 if the Reader does not say.
	Pos, Readahead int64
}

// errno maps an error from a Reader to what the caller of read(2) sees.
// It is the only place where errors become errnos.
func errno(err error) syscall.Errno {
	var en syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled):
		// The reading thread was interrupted (a signal): its wait ends,
		// and the kernel or the program asks again if it still wants
		// the data; the blocks already asked for keep coming.
		return syscall.EINTR
	case errors.As(err, &en):
		return en
	default:
		return syscall.EIO
	}
}

// noXattrs answers every extended attribute call with ENOSYS, which the
// kernel takes as "this filesystem has none" and stops asking: ls -l asks
// for ACLs and security labels of every file, one round trip each
// otherwise. Every node embeds it, so the first such call settles it.
type noXattrs struct{}

func (noXattrs) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

func (noXattrs) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

var (
	_ = (gofs.NodeGetxattrer)(noXattrs{})
	_ = (gofs.NodeListxattrer)(noXattrs{})
)
