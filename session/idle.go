package session

import (
	"context"
	"slices"
	"time"
)

// Parking policy: a torrent with no open reader and no read for
// IdleTimeout is parked; when activating one more would pass MaxActive,
// the least recently read idle torrents are parked first (one with an open
// reader never is: MaxActive may then be exceeded rather than break a read).

// idleCheckBounds keep the idle check frequent enough to park within a
// quarter of the timeout, and rare enough to cost nothing.
const (
	idleCheckMin = 10 * time.Millisecond
	idleCheckMax = 5 * time.Second
)

// parkIdle parks idle torrents until ctx ends.
func (s *Session) parkIdle(ctx context.Context) {
	every := min(max(s.cfg.IdleTimeout/4, idleCheckMin), idleCheckMax)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, t := range s.Torrents() {
				if t.Active() && t.OpenReaders() == 0 && now.Sub(t.LastRead()) >= s.cfg.IdleTimeout {
					t.Park()
				}
			}
		}
	}
}

// makeRoom parks the least recently read idle torrents until activating
// one more (except) stays within MaxActive.
func (s *Session) makeRoom(except *Torrent) {
	if s.cfg.MaxActive <= 0 {
		return
	}
	var active []*Torrent
	for _, t := range s.Torrents() {
		if t != except && t.Active() {
			active = append(active, t)
		}
	}
	slices.SortFunc(active, func(a, b *Torrent) int { return a.LastRead().Compare(b.LastRead()) })
	n := len(active)
	for _, t := range active {
		if n < s.cfg.MaxActive {
			return
		}
		if t.Park() {
			n--
		}
	}
}
