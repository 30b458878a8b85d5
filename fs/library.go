package fs

import (
	"errors"
	"fmt"
	"time"

	"github.com/btfs/btfs/metainfo"
)

// Library is a mount whose root holds many torrents' top entries (a
// torrent's directory, or its one file), added and removed while mounted.
// Listing, stat and lookup never call a torrent's Source: only opening one
// of its files does, so a torrent nobody reads costs no network.
type Library struct {
	m *fuseMount
}

// Errors of the library's changes.
var (
	ErrExists     = errors.New("fs: the library already shows a torrent with this key")
	ErrUnknown    = errors.New("fs: the library shows no torrent with this key")
	ErrNotPending = errors.New("fs: the torrent's files are already shown")
)

// MountLibrary mounts an empty library at mountpoint. It returns once the
// kernel has the mount; Unmount (or an outside umount) ends it.
func MountLibrary(mountpoint string, opts Options) (*Library, error) {
	m, err := mountRoot(mountpoint, newRoot(opts))
	if err != nil {
		return nil, err
	}
	return &Library{m: m}, nil
}

// Add shows a torrent: key is stable (the info-hash in hex), name the one
// preferred for its top entry ("" for the info's). A name already shown
// gets a tag from the key ("name [ab12cd34]", before a file's extension),
// so a torrent keeps its name across remounts as long as the torrents come
// in the same order or do not clash. It returns the name shown.
func (l *Library) Add(key, name string, info *metainfo.Info, src Source) (string, error) {
	return l.m.root.add(key, name, info, src)
}

// AddPending shows a file named name (tagged on a clash), whose text is
// note, in place of a torrent whose info is not known yet (a magnet link
// whose metadata is being fetched), until Populate shows its files.
func (l *Library) AddPending(key, name, note string) (string, error) {
	return l.m.root.addPending(key, name, note)
}

// Populate replaces key's note by the torrent's files, shown under the
// info's name. The note goes first, and the kernel is told, before the
// files are shown: nobody sees both.
func (l *Library) Populate(key string, info *metainfo.Info, src Source) error {
	return l.m.root.populate(key, info, src)
}

// Remove takes key's torrent off the root at once; handles already open
// keep reading (through its Source) until they are closed, as with rm of an
// open file.
func (l *Library) Remove(key string) error {
	r := l.m.root
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	r.mu.Lock()
	e := r.byKey[key]
	r.mu.Unlock()
	if e == nil {
		return fmt.Errorf("fs: remove %s: %w", key, ErrUnknown)
	}
	r.hide(e)
	return nil
}

// OpenFiles lists the files open in the mount, one entry per open handle.
func (l *Library) OpenFiles() []OpenFile { return l.m.openFiles() }

// Unmount detaches the filesystem (see Mounted.Unmount).
func (l *Library) Unmount() error { return l.m.unmount() }

// Wait blocks until the filesystem is unmounted (see Mounted.Wait).
func (l *Library) Wait() { l.m.wait() }

// add validates and shows a torrent whose info is known.
func (r *root) add(key, name string, info *metainfo.Info, src Source) (string, error) {
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	if err := checkInfo(info); err != nil {
		return "", fmt.Errorf("fs: add %s: %w", key, err)
	}
	if name == "" {
		name = topName(info)
	}
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("fs: add %s: %w", key, err)
	}
	return r.show(key, name, info, src, nil)
}

// checkInfo refuses an info that has no top entry to show.
func checkInfo(info *metainfo.Info) error {
	if info == nil || (!info.MultiFile && (len(info.Files) != 1 || len(info.Files[0].Path) != 1)) {
		return errors.New("fs: a single-file torrent's info must hold one file of a one-element path")
	}
	return nil
}

// show puts a new entry for key at the root, under name or a tagged form
// of it, and tells the kernel. The caller holds changeMu.
func (r *root) show(key, name string, info *metainfo.Info, src Source, note []byte) (string, error) {
	if key == "" {
		return "", errors.New("fs: a torrent needs a key")
	}
	r.mu.Lock()
	if r.byKey[key] != nil {
		r.mu.Unlock()
		return "", fmt.Errorf("fs: add %s: %w", key, ErrExists)
	}
	e := &entry{key: key, info: info, src: src, note: note}
	shown, err := freeName(name, key, e.isFile(), func(n string) bool { return r.byName[n] != nil })
	if err != nil {
		r.mu.Unlock()
		return "", err
	}
	r.gen++
	e.name, e.gen, e.base = shown, r.gen, inoBase(key, r.bases)
	r.bases[e.base] = true
	r.byKey[key], r.byName[shown] = e, e
	r.list = nil
	if info != nil {
		r.length += info.Length
		r.files += uint64(len(info.Files))
	}
	r.mu.Unlock()
	r.notify(shown, false)
	return shown, nil
}

// hide takes e off the root and tells the kernel. The caller holds
// changeMu.
func (r *root) hide(e *entry) {
	r.mu.Lock()
	delete(r.byKey, e.key)
	delete(r.byName, e.name)
	delete(r.bases, e.base)
	r.list = nil
	if e.info != nil {
		r.length -= e.info.Length
		r.files -= uint64(len(e.info.Files))
	}
	r.mu.Unlock()
	r.notify(e.name, true)
}

// notify tells the kernel that name at the root changed: a deleted entry's
// dentry goes (as after rm: open handles stay), a new one's absence (a
// negative dentry) is forgotten; the root's attributes (its mtime) too.
// Errors mean the kernel had nothing cached, or is gone: nothing to do.
func (r *root) notify(name string, gone bool) {
	if !r.live.Load() {
		return
	}
	r.mtime.Store(time.Now().UnixNano())
	if ch := r.GetChild(name); gone && ch != nil {
		r.RmChild(name)
		r.NotifyDelete(name, ch)
	} else {
		r.NotifyEntry(name)
	}
	r.NotifyContent(0, 0)
}
