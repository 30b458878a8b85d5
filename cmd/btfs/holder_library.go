package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/btfs/btfs/fs"
	"github.com/btfs/btfs/session"
	"github.com/btfs/btfs/watchdir"
)

// isLibrary reports whether a mount request is a library mount (many
// torrents, or a watched directory, each torrent's root entry at the
// mount's root) rather than the mount of one torrent.
func (r holderRequest) isLibrary() bool { return len(r.Torrents) != 1 || r.Watch != "" }

// runLibraryMount serves a library mount in the session process: an empty
// fs.Library is mounted at once, then its torrents are added (a magnet
// link's shown as a note until its metadata comes). The mount lives until
// the command goes (ctx) or the kernel lets go of it.
func (h *holder) runLibraryMount(ctx context.Context, req holderRequest, log *slog.Logger) error {
	if err := fs.CheckMountpoint(req.Mountpoint); err != nil {
		return err
	}
	var specs []session.Spec
	for _, arg := range req.Torrents {
		mi, link, err := session.LoadTorrentArg(arg)
		if err != nil {
			return err
		}
		specs = append(specs, session.Spec{MetaInfo: mi, Magnet: link, WantAll: req.Prefetch, NoFill: req.NoFill,
			MetadataTimeout: req.MetadataTimeout, Logger: log})
	}
	if req.WaitMetadata {
		for i, spec := range specs {
			if spec.Magnet == nil {
				continue
			}
			mi, err := h.waitMetadata(ctx, spec)
			if err != nil {
				return err
			}
			specs[i].MetaInfo = mi
		}
	}
	var watcher *watchdir.Watcher
	if req.Watch != "" {
		var err error
		if watcher, err = watchdir.New(req.Watch, watchdir.Options{}); err != nil {
			return err
		}
	}
	opts := fs.Options{ReadTimeout: req.ReadTimeout, AllowOther: req.AllowOther, Logger: log, Debug: req.DebugFUSE,
		OnRead: func(d time.Duration, _ int, _ error) { h.reads.Observe(d.Seconds()) }}
	lib, err := fs.MountLibrary(req.Mountpoint, opts)
	if err != nil {
		return err
	}
	m := h.sess.Mount(lib, req.Mountpoint, fitReadahead(req.Readahead, h.sess.Cache(), log))
	defer m.Close()
	lm := &libraryMount{ctx: ctx, m: m, log: log, base: session.Spec{WantAll: req.Prefetch, NoFill: req.NoFill,
		MetadataTimeout: req.MetadataTimeout, Logger: log}}
	for _, spec := range specs {
		if _, err := lm.add(spec); err != nil {
			h.unmount(m, log)
			return err
		}
	}
	view := &mountView{m: m, pid: req.PID, cache: h.sess.Cache(), cacheDir: h.cacheDir}
	if ctl, err := startControl(runtimeDir(), req.Mountpoint, controlHandler(view, lm), log); err != nil {
		log.Warn("btfs status will not show this mount", "err", err)
	} else {
		defer ctl.Close()
	}
	watchErr := make(chan error, 1)
	if watcher != nil {
		wctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer func() { cancel(); wg.Wait() }() // before m.Close
		wg.Go(func() { watchErr <- lm.watch(wctx, watcher) })
	}
	log.Info("mounted", "mountpoint", req.Mountpoint, "torrents", len(specs), "watch", req.Watch, "port", h.sess.Port())
	for {
		select {
		case err := <-watchErr:
			if err != nil && ctx.Err() == nil {
				log.Error("the watched directory cannot be followed; the torrents shown stay", "err", err)
			}
		case err := <-m.Failed(): // one magnet link's: the others stay
			log.Error("a magnet link's metadata never came; its note stays until it is removed", "err", err)
		case <-ctx.Done():
			h.unmount(m, log)
			log.Info("unmounted", "mountpoint", req.Mountpoint)
			return nil
		case <-m.Unmounted(): // umount, fusermount3 -u or btfs unmount
			log.Info("unmounted", "mountpoint", req.Mountpoint)
			return nil
		}
	}
}

// libraryMount adds torrents to a library mount (from its arguments, its
// watched directory, btfs add) and says so in its log.
type libraryMount struct {
	ctx  context.Context // the mount's: its torrents' activations run under it
	m    *session.Mount
	log  *slog.Logger
	base session.Spec // the request's settings, for every torrent added
}

// add shows one torrent (a .torrent's at once, a magnet link's as a note
// until its metadata comes).
func (lm *libraryMount) add(spec session.Spec) (*session.Torrent, error) {
	t, err := lm.m.Add(lm.ctx, spec, func(t *session.Torrent) {
		mi := t.MetaInfo()
		lm.log.Info("torrent shown", "name", mi.Info.Name, "info_hash", mi.InfoHash,
			"have", fmt.Sprintf("%d/%d pieces", t.Have().Count(), mi.Info.NumPieces()))
	})
	if err != nil {
		return nil, err
	}
	if t.MetaInfo() == nil {
		lm.log.Info("torrent added; fetching its metadata", "name", t.Name(), "info_hash", t.Key())
	}
	return t, nil
}

// watch follows a watched directory until ctx ends: each file's torrent is
// added, and removed with the file.
func (lm *libraryMount) watch(ctx context.Context, w *watchdir.Watcher) error {
	files := map[string]string{} // file name: torrent key
	return w.Run(ctx, func(ev watchdir.Event) {
		switch ev.Op {
		case watchdir.Add:
			spec := lm.base
			spec.MetaInfo, spec.Magnet = ev.Torrent, ev.Magnet
			if _, err := lm.add(spec); err != nil {
				lm.log.Error("cannot add the torrent", "file", ev.Key, "err", err)
				return
			}
			files[ev.Key] = ev.InfoHash().String()
		case watchdir.Remove:
			if key, ok := files[ev.Key]; ok {
				delete(files, ev.Key)
				if err := lm.m.Remove(key); err != nil {
					lm.log.Warn("cannot remove the torrent", "file", ev.Key, "err", err)
				} else {
					lm.log.Info("torrent removed", "file", ev.Key, "info_hash", key)
				}
			}
		case watchdir.Error:
			lm.log.Warn("watched file unusable", "file", ev.Key, "err", ev.Err)
		case watchdir.Ready:
			lm.log.Info("watched directory scanned", "dir", w.Dir())
		}
	})
}
