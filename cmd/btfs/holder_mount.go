package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/btfs/btfs/fs"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/session"
)

// runMount serves a mount command's request in the session process: the
// mount lives until the command goes (ctx) or the kernel lets go of it.
func (h *holder) runMount(ctx context.Context, req holderRequest, log *slog.Logger) error {
	if req.isLibrary() {
		return h.runLibraryMount(ctx, req, log)
	}
	if err := fs.CheckMountpoint(req.Mountpoint); err != nil {
		return err
	}
	mi, link, err := session.LoadTorrentArg(req.Torrents[0])
	if err != nil {
		return err
	}
	spec := session.Spec{MetaInfo: mi, Magnet: link, WantAll: req.Prefetch, NoFill: req.NoFill, MetadataTimeout: req.MetadataTimeout, Logger: log}
	if link != nil && req.WaitMetadata {
		if mi, err = h.waitMetadata(ctx, spec); err != nil {
			return err
		}
		spec.MetaInfo = mi
	}
	opts := fs.Options{ReadTimeout: req.ReadTimeout, AllowOther: req.AllowOther, Logger: log, Debug: req.DebugFUSE,
		OnRead: func(d time.Duration, _ int, _ error) { h.reads.Observe(d.Seconds()) }}
	if mi != nil {
		opts.MTime = mi.CreationDate
	}
	readahead := fitReadahead(req.Readahead, h.sess.Cache(), log)
	lib := newSingleLibrary(req.Mountpoint, opts)
	m := h.sess.Mount(lib, req.Mountpoint, readahead)
	defer m.Close()
	var ctl *controlServer
	defer func() {
		if ctl != nil {
			ctl.Close()
		}
	}()
	serveStatus := func() { // once the kernel has the mount
		view := &mountView{m: m, pid: req.PID, cache: h.sess.Cache(), cacheDir: h.cacheDir}
		if ctl, err = startControl(runtimeDir(), req.Mountpoint, controlHandler(view, nil), log); err != nil {
			log.Warn("btfs status will not show this mount", "err", err)
		}
	}
	shown := make(chan *session.Torrent, 1)
	t, err := m.Add(ctx, spec, func(t *session.Torrent) { shown <- t })
	if err != nil {
		lib.Unmount() // never mounted: ends the mount's wait
		return err
	}
	if t.MetaInfo() == nil {
		log.Info("mounted", "mountpoint", req.Mountpoint, "name", t.Name(), "info_hash", t.Key(),
			"metadata", "pending: the files appear when it arrives", "port", h.sess.Port())
		serveStatus()
	}
	for {
		select {
		case t := <-shown:
			mi := t.MetaInfo()
			have := fmt.Sprintf("%d/%d pieces", t.Have().Count(), mi.Info.NumPieces())
			if ctl == nil {
				log.Info("mounted", "mountpoint", req.Mountpoint, "name", mi.Info.Name, "info_hash", mi.InfoHash,
					"have", have, "port", h.sess.Port())
				serveStatus()
			} else {
				log.Info("metadata arrived; files shown", "mountpoint", req.Mountpoint, "name", mi.Info.Name, "have", have)
			}
		case err := <-m.Failed():
			log.Error("no metadata; unmounting", "err", err)
			h.unmount(m, log)
			return err
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

// waitMetadata fetches a magnet link's metadata before it is mounted
// (--wait-metadata).
func (h *holder) waitMetadata(ctx context.Context, spec session.Spec) (*metainfo.MetaInfo, error) {
	t, err := h.sess.Add(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer h.sess.Remove(t.Key()) // the mount takes its own reference
	select {
	case <-t.Ready():
	case <-ctx.Done():
		return nil, fmt.Errorf("fetching the metadata of %s: %w", t.Key(), ctx.Err())
	}
	if err := t.Err(); err != nil {
		return nil, err
	}
	return t.MetaInfo(), nil
}

// unmount detaches the mount and waits (a while) for the kernel to let go.
func (h *holder) unmount(m *session.Mount, log *slog.Logger) {
	detached, err := m.Unmount(lazyUnmountWait)
	if err != nil {
		log.Error("unmount failed", "mountpoint", m.Mountpoint(), "err", err)
		return
	}
	if !detached {
		// Detached lazily and still in use: the kernel fails the stragglers
		// once the session's end of the connection closes.
		log.Warn("mount still in use; leaving it", "mountpoint", m.Mountpoint())
	}
}

// runSeed serves seed --from-cache: the torrents seed what the cache holds
// until the command goes.
func (h *holder) runSeed(ctx context.Context, req holderRequest, log *slog.Logger, w *msgWriter) error {
	var keys []string
	defer func() {
		for _, k := range keys {
			h.sess.Remove(k)
		}
	}()
	for _, path := range req.Torrents {
		mi, err := metainfo.Load(path)
		if err != nil {
			return err
		}
		t, err := h.sess.Add(ctx, session.Spec{MetaInfo: mi, Seed: true, Logger: log})
		if err != nil {
			return err
		}
		keys = append(keys, t.Key())
		log.Info("seeding from the cache", "name", mi.Info.Name, "info_hash", mi.InfoHash,
			"have", fmt.Sprintf("%d/%d pieces", t.Have().Count(), mi.Info.NumPieces()))
	}
	w.send(holderMsg{Log: fmt.Sprintf("seeding %d torrent(s) on port %d; Ctrl-C to stop\n", len(keys), h.sess.Port())})
	<-ctx.Done()
	return nil
}
