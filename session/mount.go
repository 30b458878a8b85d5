package session

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/btfs/btfs/fs"
	"github.com/btfs/btfs/magnet"
	"github.com/btfs/btfs/metainfo"
)

// Library is the filesystem a mount shows its torrents in, each torrent's
// root entry at its root (fs.Library). stat and readdir never call a
// Source: only opening a file does, so a parked torrent costs nothing.
type Library interface {
	Add(key, name string, info *metainfo.Info, src fs.Source) (shown string, err error)
	AddPending(key, name, note string) (shown string, err error)
	Populate(key string, info *metainfo.Info, src fs.Source) error
	Remove(key string) error
	OpenFiles() []fs.OpenFile
	Unmount() error
	Wait()
}

// Mount is one mountpoint of the session and the torrents it shows.
type Mount struct {
	sess       *Session
	lib        Library
	mountpoint string
	readahead  int64
	started    time.Time
	unmounted  chan struct{} // closed when the library's Wait returns
	failed     chan error    // a magnet link's metadata never came

	mu    sync.Mutex        // guards keys, shown
	keys  []string          // the torrents shown, in the order added
	shown map[string]string // the name each key's entry is shown under
	wg    sync.WaitGroup
}

// Mount serves lib (mounted at mountpoint) from the session; readahead is
// the largest per open file.
func (s *Session) Mount(lib Library, mountpoint string, readahead int64) *Mount {
	m := &Mount{sess: s, lib: lib, mountpoint: mountpoint, readahead: readahead, started: time.Now(),
		unmounted: make(chan struct{}), failed: make(chan error, 1), shown: map[string]string{}}
	go func() { lib.Wait(); close(m.unmounted) }()
	return m
}

// Mountpoint is where the mount is.
func (m *Mount) Mountpoint() string { return m.mountpoint }

// Started is when the mount started.
func (m *Mount) Started() time.Time { return m.started }

// Unmounted is closed when the kernel has let go of the mount (Unmount,
// umount, btfs unmount).
func (m *Mount) Unmounted() <-chan struct{} { return m.unmounted }

// Failed delivers the error of a magnet link whose metadata never came.
func (m *Mount) Failed() <-chan error { return m.failed }

// OpenFiles lists the files open in the mount.
func (m *Mount) OpenFiles() []fs.OpenFile { return m.lib.OpenFiles() }

// Add adds a torrent to the session and shows it: at once for a .torrent
// (or a magnet link whose info the cache kept); a magnet link's shows a
// note until its metadata comes, then its files (onReady is called then,
// with the torrent).
func (m *Mount) Add(ctx context.Context, spec Spec, onReady func(*Torrent)) (*Torrent, error) {
	t, err := m.sess.Add(ctx, spec)
	if err != nil {
		return nil, err
	}
	if mi := t.MetaInfo(); mi != nil {
		shown, err := m.lib.Add(t.key, mi.Info.Name, &mi.Info, t.Source(m.readahead))
		if err != nil {
			m.sess.Remove(t.key)
			return nil, err
		}
		m.added(t.key, shown)
		if onReady != nil {
			onReady(t)
		}
		return t, nil
	}
	shown, err := m.lib.AddPending(t.key, t.Name(), pendingNote(*spec.Magnet))
	if err != nil {
		m.sess.Remove(t.key)
		return nil, err
	}
	m.added(t.key, shown)
	m.wg.Go(func() {
		select {
		case <-t.Ready():
		case <-m.unmounted:
			return
		}
		mi := t.MetaInfo()
		if mi == nil {
			select {
			case m.failed <- t.Err():
			default:
			}
			return
		}
		if err := m.lib.Populate(t.key, &mi.Info, t.Source(m.readahead)); err != nil {
			select {
			case m.failed <- fmt.Errorf("show the files of %s: %w", mi.Info.Name, err):
			default:
			}
			return
		}
		m.mu.Lock()
		if _, ok := m.shown[t.key]; ok {
			m.shown[t.key] = mi.Info.Name
		}
		m.mu.Unlock()
		if onReady != nil {
			onReady(t)
		}
	})
	return t, nil
}

func (m *Mount) added(key, shown string) {
	m.mu.Lock()
	m.keys = append(m.keys, key)
	m.shown[key] = shown
	m.mu.Unlock()
}

// Shown is the name the torrent key is shown under ("" if it is not).
func (m *Mount) Shown(key string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.shown[key]
}

// Find returns the key of the torrent shown under name, or whose info-hash
// (in hex, any case) it is.
func (m *Mount) Find(nameOrHash string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, shown := range m.shown {
		if shown == nameOrHash || strings.EqualFold(key, nameOrHash) {
			return key, true
		}
	}
	return "", false
}

// Torrents returns the mount's torrents, the active ones first.
func (m *Mount) Torrents() []*Torrent {
	m.mu.Lock()
	keys := append([]string(nil), m.keys...)
	m.mu.Unlock()
	var ts []*Torrent
	for _, k := range keys {
		if t := m.sess.Torrent(k); t != nil {
			ts = append(ts, t)
		}
	}
	SortActiveFirst(ts)
	return ts
}

// Remove hides a torrent and drops the mount's reference to it.
func (m *Mount) Remove(key string) error {
	m.mu.Lock()
	i := -1
	for j, k := range m.keys {
		if k == key {
			i = j
		}
	}
	if i < 0 {
		m.mu.Unlock()
		return fmt.Errorf("session: no torrent %s in %s", key, m.mountpoint)
	}
	m.keys = append(m.keys[:i], m.keys[i+1:]...)
	delete(m.shown, key)
	m.mu.Unlock()
	err := m.lib.Remove(key)
	m.sess.Remove(key)
	return err
}

// Unmount detaches the mount (lazily if in use) and waits up to wait for
// the kernel to let go.
func (m *Mount) Unmount(wait time.Duration) (detached bool, err error) {
	if err := m.lib.Unmount(); err != nil {
		return false, err
	}
	select {
	case <-m.unmounted:
		return true, nil
	case <-time.After(wait):
		return false, nil
	}
}

// Close drops the mount's torrents from the session, once it is unmounted
// (or given up on).
func (m *Mount) Close() {
	m.mu.Lock()
	keys := m.keys
	m.keys = nil
	clear(m.shown)
	m.mu.Unlock()
	for _, k := range keys {
		m.sess.Remove(k)
	}
	m.wg.Wait()
}

// pendingNote is the text of fs.PendingFile in a mount waiting for a
// magnet link's metadata.
func pendingNote(link magnet.Link) string {
	name := ""
	if link.Name != "" {
		name = fmt.Sprintf(" (%q, as the link names it)", link.Name)
	}
	return fmt.Sprintf("btfs is fetching the metadata of torrent %s%s from its peers.\n"+
		"The torrent's files appear in this directory when it arrives; the mount's log says how it goes.\n"+
		"('btfs mount --wait-metadata' mounts only once the metadata is in.)\n", link.InfoHash, name)
}
