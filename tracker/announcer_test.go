package tracker

import (
	"errors"
	"github.com/btfs/btfs/internal/wait"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestAnnouncerTiers(t *testing.T) {
	checkLeaks(t)
	f := &fakeClient{resp: AnnounceResponse{Interval: time.Hour}}
	f.setFailing("a", "b")
	a, _ := runAnnouncer(t, AnnouncerOptions{Trackers: [][]string{{"a", "b", "c"}, {"d"}}, Client: f, MinWait: time.Millisecond})
	calls := f.waitCalls(t, 3)
	if got := urlsOf(calls); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("first round %v", got)
	}
	if got := eventsOf(calls); !slices.Equal(got, []Event{EventStarted, EventStarted, EventStarted}) {
		t.Errorf("first round events %v", got)
	}
	wait.For(t, "status", 10*time.Second, func() bool { return a.Status().Tracker == "c" })
	a.NeedPeers()
	calls = f.waitCalls(t, 4)
	if calls[3].url != "c" || calls[3].req.Event != EventNone {
		t.Errorf("second round: %s %v, want c promoted to the front", calls[3].url, calls[3].req.Event)
	}
	f.setFailing("a", "b", "c")
	a.NeedPeers()
	calls = f.waitCalls(t, 8)
	if got := urlsOf(calls[4:]); !slices.Equal(got, []string{"c", "a", "b", "d"}) {
		t.Errorf("third round %v", got)
	}
	wait.For(t, "status", 10*time.Second, func() bool { return a.Status().Tracker == "d" })
	a.NeedPeers()
	calls = f.waitCalls(t, 12)
	if got := urlsOf(calls[8:12]); !slices.Equal(got, []string{"c", "a", "b", "d"}) {
		t.Errorf("fourth round %v: tiers keep their order", got)
	}
}

func TestAnnouncerBackoff(t *testing.T) {
	checkLeaks(t)
	f := &fakeClient{}
	f.setFailing("a")
	a, stop := runAnnouncer(t, AnnouncerOptions{
		Trackers: [][]string{{"a"}}, Client: f, RetryMin: 10 * time.Millisecond, RetryMax: 40 * time.Millisecond,
	})
	f.waitCalls(t, 2)
	a.NeedPeers() // must not cut the back-off short
	calls := f.waitCalls(t, 6)
	for i, want := range []time.Duration{10, 20, 40, 40, 40} {
		want *= time.Millisecond
		if gap := calls[i+1].at.Sub(calls[i].at); gap < want {
			t.Errorf("gap %d: %v, want at least %v", i, gap, want)
		}
	}
	st := a.Status()
	if st.Failures < 5 || !errors.Is(st.Err, errFake) || st.Tracker != "" || st.Failed != st.Failures || st.Announced != 0 {
		t.Errorf("status %+v", st)
	}
	stop()
	for _, c := range f.snapshot() {
		if c.req.Event != EventStarted {
			t.Errorf("event %v: only started until one gets through, and no stopped", c.req.Event)
		}
	}
}

func TestAnnouncerBackoffSchedule(t *testing.T) {
	a := &Announcer{opts: AnnouncerOptions{RetryMin: time.Second, RetryMax: 5 * time.Second}}
	for n, want := range []time.Duration{1, 1, 2, 4, 5, 5} {
		if got := a.backoff(max(n, 1)); got != want*time.Second {
			t.Errorf("backoff(%d) = %v, want %v", n, got, want*time.Second)
		}
	}
	a.opts.RetryMax = 1 << 62
	if got := a.backoff(1000); got <= 0 {
		t.Errorf("backoff(1000) = %v: overflowed", got)
	}
}

func TestAnnouncerEvents(t *testing.T) {
	checkLeaks(t)
	f := &fakeClient{resp: AnnounceResponse{Interval: time.Hour, Seeders: 4, Leechers: 5, Warning: "hi",
		Peers: []Peer{{}, {}}}}
	var left atomic.Int64
	left.Store(100)
	var got atomic.Int32
	a, stop := runAnnouncer(t, AnnouncerOptions{
		Trackers: [][]string{{"a"}}, Client: f, Port: 7, NumWant: 20,
		Progress: func() Progress { return Progress{Left: left.Load(), Uploaded: 3, Downloaded: 9} },
		OnPeers:  func(p []Peer) { got.Add(int32(len(p))) },
	})
	f.waitCalls(t, 1)
	wait.For(t, "peers", 10*time.Second, func() bool { return got.Load() == 2 })
	st := a.Status()
	if st.Tracker != "a" || st.Seeders != 4 || st.Leechers != 5 || st.Warning != "hi" || st.Peers != 2 ||
		st.Interval != time.Hour || st.Err != nil || st.NextAnnounce.Before(st.LastAnnounce.Add(59*time.Minute)) ||
		st.Announced != 1 || st.Failed != 0 {
		t.Errorf("status %+v", st)
	}
	left.Store(0)
	a.Completed()
	f.waitCalls(t, 2)
	stop()
	calls := f.snapshot()
	if got := eventsOf(calls); !slices.Equal(got, []Event{EventStarted, EventCompleted, EventStopped}) {
		t.Fatalf("events %v", got)
	}
	r := calls[0].req
	if r.Left != 100 || r.Uploaded != 3 || r.Downloaded != 9 || r.Port != 7 || r.NumWant != 20 || calls[1].req.Left != 0 {
		t.Errorf("requests %+v / %+v", r, calls[1].req)
	}
}

// A download that completes as the announcer is stopped (btfs get exits at
// once) is still reported before stopped, whether the completed announce was
// not yet sent or was cut off in flight.
func TestAnnouncerCompletedAtStop(t *testing.T) {
	for _, tt := range []struct {
		name string
		hang int
	}{{"pending", 0}, {"cut off", 1}} {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			f := &fakeClient{resp: AnnounceResponse{Interval: time.Hour}, hangCompleted: tt.hang}
			a, stop := runAnnouncer(t, AnnouncerOptions{Trackers: [][]string{{"a"}}, Client: f})
			f.waitCalls(t, 1)
			wait.For(t, "started to get through", 10*time.Second, func() bool { return a.Status().Tracker == "a" })
			a.Completed()
			if tt.hang > 0 {
				f.waitCalls(t, 2) // the completed announce is in flight
			}
			stop()
			calls := f.snapshot()
			if got := eventsOf(calls); len(got) < 3 || !slices.Equal(got[len(got)-2:], []Event{EventCompleted, EventStopped}) || got[0] != EventStarted {
				t.Errorf("events %v; want started, then completed and stopped last", got)
			}
		})
	}
}

func TestAnnouncerCompletedBeforeStarted(t *testing.T) {
	checkLeaks(t)
	f := &fakeClient{resp: AnnounceResponse{Interval: time.Hour}}
	f.setFailing("a")
	a, _ := runAnnouncer(t, AnnouncerOptions{Trackers: [][]string{{"a"}}, Client: f, RetryMin: 5 * time.Millisecond})
	f.waitCalls(t, 1)
	a.Completed()
	f.setFailing()
	wait.For(t, "completed", 10*time.Second, func() bool {
		calls := f.snapshot()
		return calls[len(calls)-1].req.Event == EventCompleted
	})
	calls := f.snapshot()
	if ev := calls[len(calls)-2].req.Event; ev != EventStarted {
		t.Errorf("before completed: %v, want started", ev)
	}
}

func TestAnnouncerMinInterval(t *testing.T) {
	checkLeaks(t)
	f := &fakeClient{resp: AnnounceResponse{Interval: time.Hour, MinInterval: 80 * time.Millisecond}}
	a, _ := runAnnouncer(t, AnnouncerOptions{Trackers: [][]string{{"a"}}, Client: f, MinWait: time.Millisecond})
	f.waitCalls(t, 1)
	wait.For(t, "status", 10*time.Second, func() bool { return a.Status().Tracker == "a" })
	a.NeedPeers()
	calls := f.waitCalls(t, 2)
	if gap := calls[1].at.Sub(calls[0].at); gap < 80*time.Millisecond {
		t.Errorf("second announce %v after the first, want at least the min interval", gap)
	}
}

func TestAnnouncerIntervalFloor(t *testing.T) {
	checkLeaks(t)
	f := &fakeClient{} // interval 0
	a, _ := runAnnouncer(t, AnnouncerOptions{Trackers: [][]string{{"a"}}, Client: f,
		DefaultInterval: 10 * time.Millisecond, MinWait: 30 * time.Millisecond})
	calls := f.waitCalls(t, 3)
	if gap := calls[2].at.Sub(calls[1].at); gap < 30*time.Millisecond {
		t.Errorf("announces %v apart, want at least MinWait", gap)
	}
	if st := a.Status(); st.Interval != 30*time.Millisecond {
		t.Errorf("interval %v", st.Interval)
	}
}

func TestAnnouncerStopTimeout(t *testing.T) {
	checkLeaks(t)
	f := &fakeClient{resp: AnnounceResponse{Interval: time.Hour}, block: true}
	_, stop := runAnnouncer(t, AnnouncerOptions{Trackers: [][]string{{"a"}}, Client: f, StopTimeout: 20 * time.Millisecond})
	f.waitCalls(t, 1)
	start := time.Now()
	stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v to return", d)
	}
	if calls := f.snapshot(); calls[len(calls)-1].req.Event != EventStopped {
		t.Errorf("last announce %v, want stopped", calls[len(calls)-1].req.Event)
	}
}

func TestNewAnnouncerErrors(t *testing.T) {
	p := func() Progress { return Progress{} }
	for _, o := range []AnnouncerOptions{
		{Trackers: [][]string{{"a"}}},
		{Progress: p},
		{Progress: p, Trackers: [][]string{{""}, {}}},
	} {
		if _, err := NewAnnouncer(o); err == nil {
			t.Errorf("NewAnnouncer(%+v) accepted", o)
		}
	}
}

func TestTiers(t *testing.T) {
	reverse := func(n int, swap func(i, j int)) {
		for i := range n / 2 {
			swap(i, n-1-i)
		}
	}
	tr := newTiers([][]string{{"a", "b", "", "c"}, {}, {"a", "d"}, {""}}, reverse)
	if len(tr) != 2 || !slices.Equal(tr[0], []string{"c", "b", "a"}) || !slices.Equal(tr[1], []string{"d"}) {
		t.Fatalf("tiers %v", tr)
	}
	tr.promote(0, 2)
	if !slices.Equal(tr[0], []string{"a", "c", "b"}) {
		t.Errorf("after promote(0, 2): %v", tr[0])
	}
	tr.promote(0, 0)
	if !slices.Equal(tr[0], []string{"a", "c", "b"}) {
		t.Errorf("after promote(0, 0): %v", tr[0])
	}
}

// TestAnnouncerEndToEnd runs two Announcers against a real Server, behind a
// dead tracker in the same tier.
func TestAnnouncerEndToEnd(t *testing.T) {
	checkLeaks(t)
	_, ts := newHTTPServer(t, ServerOptions{Interval: time.Second})
	dead := "http://127.0.0.1:1/announce"
	saw := make([]chan Peer, 2)
	var as []*Announcer
	for i := range 2 {
		saw[i] = make(chan Peer, 16)
		a, _ := runAnnouncer(t, AnnouncerOptions{
			Trackers: [][]string{{dead, ts.URL + "/announce"}}, InfoHash: hashN(1), PeerID: idN(i), Port: uint16(5000 + i),
			MinWait: 10 * time.Millisecond, RetryMin: 10 * time.Millisecond,
			OnPeers: func(ps []Peer) {
				for _, p := range ps {
					select { // never block Run
					case saw[i] <- p:
					default:
					}
				}
			},
		})
		as = append(as, a)
	}
	wait.For(t, "first announces", 10*time.Second, func() bool { return as[0].Status().Tracker != "" && as[1].Status().Tracker != "" })
	as[0].NeedPeers() // the first may have announced alone
	select {
	case p := <-saw[0]:
		if p.Addr.Port() != 5001 {
			t.Errorf("peer 0 saw %v", p.Addr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("peer 0 never saw peer 1")
	}
}
