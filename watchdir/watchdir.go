// Package watchdir watches a directory of torrents: every ".torrent" file, and
// every ".magnet" file holding one magnet link, in it. It reports what the
// directory holds as Add and Remove events keyed by file name, with the
// content already parsed, and knows nothing of sessions or mounts.
//
// Rules the watcher follows:
//   - The initial scan comes first, in file name order (so that names given
//     downstream on clashes are the same on every run), then Ready, then
//     changes as they happen.
//   - A file is read once its writes settle: Settle after the last event on
//     its name. Files copied in place, moved in, renamed over by an editor, or
//     reached through a symlink are all read the same way.
//   - A file that does not parse is retried on its next change. Its error is
//     reported only once it has been left alone for ErrorGrace (a writer that
//     pauses mid-file is not an error), and once per change. A torrent already
//     reported stays while its file is broken: only removing the file, or a
//     different torrent in it, removes it.
//   - A file whose content becomes another torrent gives Remove then Add; the
//     same torrent rewritten gives nothing.
//   - Removing or renaming the file out gives Remove.
//   - Hidden files (a leading '.') are skipped: tools write their temporary
//     files so. Names match their suffix in any case.
//   - The directory itself removed or renamed ends Run with ErrDirGone; the
//     torrents reported stay reported (the caller decides).
//   - A symlink's target is read when the link changes; changes to a target
//     outside the directory are not seen (the kernel tells us only of the
//     directory's own entries).
//
// fsnotify does the watching: it is the maintained, portable binding to
// inotify (and kqueue, ReadDirectoryChangesW), so changes arrive at once
// instead of on a polling timer, and idle directories cost nothing.
package watchdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/btfs/btfs/magnet"
	"github.com/btfs/btfs/metainfo"
)

// Defaults for Options.
const (
	// DefaultSettle is how long a file must go without events before it is
	// read: long enough to cover the gaps between a copying program's
	// writes, short enough that a new file shows up well within a second.
	DefaultSettle = 200 * time.Millisecond
	// DefaultErrorGrace is how long a file that does not parse must go
	// unmodified before its error is reported: a slow writer (a browser
	// saving a download) pauses longer than Settle.
	DefaultErrorGrace = time.Second
)

// Suffixes of the files the watcher reads.
const (
	TorrentSuffix = ".torrent"
	MagnetSuffix  = ".magnet"
)

// ErrDirGone is wrapped by Run's error when the watched directory is removed
// or renamed.
var ErrDirGone = errors.New("watched directory is gone")

// Op is what an Event reports.
type Op int

// The events, in the order the package documentation describes.
const (
	// Add: the file holds a torrent (Torrent or Magnet is set).
	Add Op = iota + 1
	// Remove: the torrent last added under Key is gone.
	Remove
	// Error: a file could not be used (Err says why); nothing else changed.
	// Key is empty for an error of the watcher itself.
	Error
	// Ready: the initial scan is done; every file then present was reported.
	Ready
)

func (op Op) String() string {
	switch op {
	case Add:
		return "add"
	case Remove:
		return "remove"
	case Error:
		return "error"
	case Ready:
		return "ready"
	}
	return fmt.Sprintf("Op(%d)", int(op))
}

// Event is one change to the directory's torrents.
type Event struct {
	Op  Op
	Key string // the file's name in the directory
	// Torrent is the parsed .torrent file of an Add, or nil.
	Torrent *metainfo.MetaInfo
	// Magnet is the parsed link of a .magnet file's Add, or nil.
	Magnet *magnet.Link
	Err    error // the reason of an Error
}

// InfoHash is the info-hash of an Add's torrent (zero for other events).
func (e Event) InfoHash() metainfo.Hash {
	switch {
	case e.Torrent != nil:
		return e.Torrent.InfoHash
	case e.Magnet != nil:
		return e.Magnet.InfoHash
	}
	return metainfo.Hash{}
}

func (e Event) String() string {
	switch e.Op {
	case Add:
		return fmt.Sprintf("add %s %s", e.Key, e.InfoHash())
	case Error:
		return fmt.Sprintf("error %s: %v", e.Key, e.Err)
	}
	return fmt.Sprintf("%s %s", e.Op, e.Key)
}

// Options tune a Watcher; zero values take the defaults.
type Options struct {
	Settle     time.Duration // default DefaultSettle
	ErrorGrace time.Duration // default DefaultErrorGrace
}

// Watcher watches one directory. Create it with New, then call Run once.
type Watcher struct {
	dir  string
	opts Options
}

// New checks that dir is a directory and returns its watcher; nothing runs
// until Run.
func New(dir string, opts Options) (*Watcher, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w (give an existing directory of .torrent and .magnet files)", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("watch %s: not a directory (give a directory of .torrent and .magnet files)", dir)
	}
	if opts.Settle <= 0 {
		opts.Settle = DefaultSettle
	}
	if opts.ErrorGrace <= 0 {
		opts.ErrorGrace = DefaultErrorGrace
	}
	return &Watcher{dir: filepath.Clean(dir), opts: opts}, nil
}

// Dir is the directory watched.
func (w *Watcher) Dir() string { return w.dir }

// watched tells whether a name in the directory is one the watcher reads.
func watched(name string) bool {
	if name == "" || name[0] == '.' {
		return false
	}
	return hasSuffixFold(name, TorrentSuffix) || hasSuffixFold(name, MagnetSuffix)
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) > len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}
