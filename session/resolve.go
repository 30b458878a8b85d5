package session

import (
	"context"
	"errors"
	"log/slog"

	"github.com/btfs/btfs/cache"
	"github.com/btfs/btfs/magnet"
	"github.com/btfs/btfs/metainfo"
)

// resolve fetches a magnet link's metadata on a goroutine the torrent owns
// (stop ends it); on success the info is kept in the cache and the engine
// starts with the peers the fetch met. Ready closes either way.
func (t *Torrent) resolve() {
	link := *t.spec.Magnet
	mf, err := NewMagnetFetch(link, t.p.base.PeerID, t.p.base.ListenPort, t.p.dht, t.p.base.Dial, t.log)
	if err != nil {
		t.fail(err)
		return
	}
	ctx, cancel := context.WithCancel(t.ctx)
	finished := make(chan struct{})
	t.mu.Lock()
	t.stopResolve = func() { cancel(); <-finished }
	t.mu.Unlock()
	go func() {
		defer close(finished)
		mi, err := mf.Fetch(ctx, t.spec.MetadataTimeout)
		if err != nil {
			mf.Stop() // the trackers heard of us; no engine follows to say goodbye
			t.fail(err)
			return
		}
		if t.p.cache != nil {
			keepInfo(t.p.cache, mi, t.log)
		}
		t.mu.Lock()
		t.setInfoLocked(mi)
		t.known = append(t.known, mf.Peers(ctx)...)
		t.mu.Unlock()
		close(t.ready)
		if !t.spec.Parked {
			t.Activate()
		}
	}()
}

func (t *Torrent) fail(err error) {
	t.mu.Lock()
	t.err = err
	t.mu.Unlock()
	close(t.ready)
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
