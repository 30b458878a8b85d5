package tracker

import (
	"context"
	"fmt"
	"time"
)

// Run announces until ctx is done, then sends stopped (bounded by
// StopTimeout) to the tracker that answered last, and returns. The first
// announce, sent at once, is started; later ones follow the tracker's
// interval, Completed and NeedPeers. Call Run once.
func (a *Announcer) Run(ctx context.Context) {
	var (
		event         = EventStarted // the event of the next announce; kept until one succeeds
		completedNext bool           // Completed came before started got through
		started       bool           // a tracker knows us: it must hear stopped
		failures      int
		lastOK        time.Time
		minInterval   time.Duration
		next          time.Time // when the timer fires
	)
	timer := time.NewTimer(0)
	defer timer.Stop()
	reschedule := func(at time.Time) {
		next = at
		timer.Reset(time.Until(at))
		a.mu.Lock()
		a.status.NextAnnounce = at
		a.mu.Unlock()
	}
	for {
		select {
		case <-ctx.Done():
			if started {
				// A download that finished just before the end (btfs get
				// exits as soon as it has every piece) is still reported,
				// or the tracker never counts it: the completed event may
				// be unsent, in flight and cut off, or not yet picked up.
				a.stop(ctx, event == EventCompleted || len(a.completed) > 0)
			}
			return
		case <-a.completed:
			if event == EventStarted {
				completedNext = true
			} else {
				event = EventCompleted
				reschedule(time.Now())
			}
			continue
		case <-a.needPeers:
			// Only between successes: before the first the announce is
			// already due, and after failures the back-off stands.
			if lastOK.IsZero() || failures > 0 {
				continue
			}
			if at := lastOK.Add(max(minInterval, a.opts.MinWait)); at.Before(next) {
				reschedule(at)
			}
			continue
		case <-timer.C:
		}

		resp, url, err := a.announce(ctx, event)
		now := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				continue // shutting down: not a tracker's failure
			}
			failures++
			a.failed(err, failures)
			reschedule(now.Add(a.backoff(failures)))
			continue
		}
		started, failures, lastOK, minInterval = true, 0, now, resp.MinInterval
		interval := resp.Interval
		if interval == 0 {
			interval = a.opts.DefaultInterval
		}
		interval = max(interval, a.opts.MinWait)
		a.succeeded(url, interval, &resp)
		event = EventNone
		if completedNext {
			event, completedNext = EventCompleted, false
			reschedule(now)
		} else {
			reschedule(now.Add(interval))
		}
		a.opts.OnPeers(resp.Peers)
	}
}

// announce tries the trackers in BEP 12 order until one answers, and moves
// that one to the front of its tier.
func (a *Announcer) announce(ctx context.Context, event Event) (AnnounceResponse, string, error) {
	req := a.request(event)
	var lastErr error
	tried := 0
	for ti := range a.tiers {
		for i, url := range a.tiers[ti] {
			req.TrackerID = a.trackerIDs[url]
			tctx, cancel := context.WithTimeout(ctx, a.opts.TrackerTimeout)
			resp, err := a.opts.Client.Announce(tctx, url, req)
			cancel()
			if err == nil {
				a.tiers.promote(ti, i)
				if resp.TrackerID != "" {
					a.trackerIDs[url] = resp.TrackerID
				}
				return resp, url, nil
			}
			if ctx.Err() != nil {
				return AnnounceResponse{}, "", ctx.Err()
			}
			a.opts.Logger.Debug("announce failed", "tracker", url, "event", event.String(), "err", err)
			lastErr = err
			tried++
		}
	}
	return AnnounceResponse{}, "", fmt.Errorf("tracker: all %d trackers failed; last: %w", tried, lastErr)
}

func (a *Announcer) request(event Event) AnnounceRequest {
	p := a.opts.Progress()
	return AnnounceRequest{
		InfoHash: a.opts.InfoHash, PeerID: a.opts.PeerID, Port: a.opts.Port, Key: a.opts.Key,
		NumWant: a.opts.NumWant, Event: event,
		Uploaded: p.Uploaded, Downloaded: p.Downloaded, Left: p.Left,
	}
}

// stop tells the tracker that answered last that we are leaving, after
// saying that the download completed if that is still unsaid (transmission
// does the same; a stopped announce alone is not counted as a download). It
// runs as Run ends, so it gets a context of its own, short and not yet
// cancelled, for both announces.
func (a *Announcer) stop(ctx context.Context, completed bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.StopTimeout)
	defer cancel()
	url := a.tiers[0][0]
	if s := a.Status(); s.Tracker != "" {
		url = s.Tracker
	}
	events := []Event{EventStopped}
	if completed {
		events = []Event{EventCompleted, EventStopped}
	}
	for _, ev := range events {
		req := a.request(ev)
		req.TrackerID = a.trackerIDs[url]
		if _, err := a.opts.Client.Announce(ctx, url, req); err != nil {
			a.opts.Logger.Debug("announce failed", "tracker", url, "event", ev.String(), "err", err)
		}
	}
}

// backoff is the wait after the n-th failed round in a row.
func (a *Announcer) backoff(n int) time.Duration {
	d := a.opts.RetryMin
	for i := 1; i < n && d < a.opts.RetryMax; i++ {
		d *= 2
	}
	return min(d, a.opts.RetryMax)
}

func (a *Announcer) failed(err error, failures int) {
	if failures == 1 { // once per streak: the user needs to know why no peers come
		a.opts.Logger.Warn("announce failed; retrying with back-off", "err", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status.Err, a.status.Failures = err, failures
	a.status.Failed++
}

func (a *Announcer) succeeded(url string, interval time.Duration, resp *AnnounceResponse) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status = AnnouncerStatus{
		Tracker: url, LastAnnounce: time.Now(), Interval: interval,
		Seeders: resp.Seeders, Leechers: resp.Leechers, Peers: len(resp.Peers),
		Warning: resp.Warning, NextAnnounce: a.status.NextAnnounce,
		Announced: a.status.Announced + 1, Failed: a.status.Failed,
	}
}
