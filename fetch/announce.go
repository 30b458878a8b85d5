package fetch

import (
	"context"
	"net/netip"

	"github.com/btfs/btfs/tracker"
)

// startAnnouncer keeps the torrent announced to its trackers on a goroutine
// owned by Run: peers from each answer go to the loop, and when ctx ends the
// announcer says "stopped" before it returns.
func (t *Torrent) startAnnouncer(ctx context.Context) {
	if len(t.cfg.Trackers) == 0 {
		return
	}
	a, err := tracker.NewAnnouncer(tracker.AnnouncerOptions{
		Trackers: t.cfg.Trackers,
		InfoHash: t.cfg.InfoHash,
		PeerID:   t.cfg.PeerID,
		Port:     uint16(t.cfg.ListenPort),
		Progress: func() tracker.Progress {
			return tracker.Progress{Uploaded: t.uploaded.Load(), Downloaded: t.downloaded.Load(), Left: t.left.Load()}
		},
		OnPeers: func(peers []tracker.Peer) {
			addrs := make([]netip.AddrPort, 0, len(peers))
			for _, p := range peers {
				addrs = append(addrs, p.Addr)
			}
			t.AddPeers(ctx, addrs)
		},
		MinWait: t.cfg.AnnounceMinWait,
		Logger:  t.log,
	})
	if err != nil {
		t.log.Warn("not announcing", "err", err)
		return
	}
	t.announcer = a
	t.wg.Go(func() { a.Run(ctx) })
}

// AnnounceStatus returns what the trackers last said, if any are in use.
func (t *Torrent) AnnounceStatus() (tracker.AnnouncerStatus, bool) {
	if t.announcer == nil {
		return tracker.AnnouncerStatus{}, false
	}
	return t.announcer.Status(), true
}
