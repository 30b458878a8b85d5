package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/btfs/btfs/cache"
	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/fs"
	"github.com/btfs/btfs/magnet"
	"github.com/btfs/btfs/metainfo"
	"github.com/urfave/cli/v2"
)

// mountSession is what a running mount holds. For a magnet link mounted
// before its metadata, the engine, the status endpoint and the torrent's
// metrics start only when the metadata arrives; stop ends whatever started,
// in the reverse order.
type mountSession struct {
	c          *cli.Context
	log        *slog.Logger
	base       fetch.Config
	readahead  int64
	cache      *cache.Cache
	ln         *fetch.Listener
	metrics    *metricsServer
	mountpoint string
	started    time.Time
	magnet     *magnetFetch // nil for a .torrent file

	mounted *fs.Mounted
	// Set by startEngine once the info is known.
	mi    *metainfo.MetaInfo
	store *cache.TorrentStore
	t     *fetch.Torrent

	stopFetch, stopEngine func()
	ctl                   *controlServer
}

// metadataResult is how a background metadata fetch ends.
type metadataResult struct {
	mi  *metainfo.MetaInfo
	err error
}

// startEngine runs the torrent mi over the cache, seeded with the magnet
// link's peers if there is one.
func (s *mountSession) startEngine(mi *metainfo.MetaInfo) {
	s.mi = mi
	s.store = s.cache.Torrent(mi.InfoHash, &mi.Info)
	s.t = newTorrent(s.base, s.ln, mi, s.store, s.store.Have(), s.c.Bool("prefetch"))
	s.stopEngine = runAll(s.c.Context, s.ln, s.t)
	if s.magnet != nil {
		addMagnetPeers(s.c.Context, s.t, s.magnet)
	}
	s.metrics.Register(newTorrentCollector(metricTorrent{s.t, mi}))
}

// source is what the mount reads through once the engine runs.
func (s *mountSession) source() fs.Source {
	return torrentSource{t: s.t, readahead: s.readahead}
}

// serveStatus starts the endpoint btfs status asks.
func (s *mountSession) serveStatus() {
	status := &statusSource{mi: s.mi, mountpoint: absPath(s.mountpoint), started: s.started, t: s.t,
		cache: s.cache, cacheDir: absPath(s.c.String("cache-dir")), files: s.mounted.OpenFiles}
	ctl, err := startControl(runtimeDir(), s.mountpoint, status, s.log)
	if err != nil {
		s.log.Warn("btfs status will not show this mount", "err", err)
		return
	}
	s.ctl = ctl
}

// fetchInBackground fetches the magnet link's metadata while the mount
// serves its empty root; the result comes on the channel.
func (s *mountSession) fetchInBackground() <-chan metadataResult {
	ctx, cancel := context.WithCancel(s.c.Context)
	out := make(chan metadataResult, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		mi, err := s.magnet.fetch(ctx, s.c.Duration("metadata-timeout"))
		out <- metadataResult{mi, err}
	}()
	s.stopFetch = func() { cancel(); <-finished }
	return out
}

// unmount detaches the mount and waits (a while) for the kernel to let go.
func (s *mountSession) unmount(unmounted <-chan struct{}) error {
	if err := s.mounted.Unmount(); err != nil {
		return err
	}
	select {
	case <-unmounted:
	case <-time.After(lazyUnmountWait):
		// Detached lazily and still in use: exiting closes our end of the
		// connection, and the kernel then fails the stragglers.
		s.log.Warn("mount still in use; exiting anyway", "mountpoint", s.mountpoint)
	}
	return nil
}

// stop ends what the session started: the status endpoint and the metrics
// (which read the torrent and the cache) first, then the metadata fetch
// and the engine.
func (s *mountSession) stop() {
	if s.ctl != nil {
		s.ctl.Close()
	}
	s.metrics.Close()
	if s.stopFetch != nil {
		s.stopFetch()
	}
	if s.stopEngine != nil {
		s.stopEngine()
	}
}

// cachedInfo returns the torrent of link from the info the cache kept, or
// nil if it has none (or an unusable one).
func cachedInfo(cc *cache.Cache, link magnet.Link, log *slog.Logger) *metainfo.MetaInfo {
	info, err := cc.Info(link.InfoHash)
	if err != nil {
		if !errors.Is(err, cache.ErrNotStored) {
			log.Warn("the metadata in the cache is unusable; fetching it again", "err", err)
		}
		return nil
	}
	mi, err := link.MetaInfo(info)
	if err != nil {
		log.Warn("the metadata in the cache is unusable; fetching it again", "err", err)
		return nil
	}
	log.Info("metadata from the cache", "name", mi.Info.Name, "info_hash", mi.InfoHash)
	return mi
}

// keepInfo stores a magnet link's metadata in the cache for the next mount.
func keepInfo(cc *cache.Cache, mi *metainfo.MetaInfo, log *slog.Logger) {
	if err := cc.PutInfo(mi.InfoHash, mi.InfoBytes); err != nil {
		log.Warn("the metadata is not kept in the cache; a remount will fetch it again", "err", err)
	}
}

// pendingNote is the text of fs.PendingFile in a mount waiting for its
// metadata.
func pendingNote(link magnet.Link) string {
	name := ""
	if link.Name != "" {
		name = fmt.Sprintf(" (%q, as the link names it)", link.Name)
	}
	return fmt.Sprintf("btfs is fetching the metadata of torrent %s%s from its peers.\n"+
		"The torrent's files appear in this directory when it arrives; the mount's log says how it goes.\n"+
		"('btfs mount --wait-metadata' mounts only once the metadata is in.)\n", link.InfoHash, name)
}
