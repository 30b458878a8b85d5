package tracker

import (
	"context"
	"errors"
	"github.com/btfs/btfs/internal/wait"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClient records announces and answers from its settings.
type fakeClient struct {
	mu      sync.Mutex
	calls   []fakeCall
	failing map[string]bool
	resp    AnnounceResponse
	block   bool // stopped announces hang until their context ends
	// hangCompleted is how many completed announces still to hang until
	// their context ends, as one cut off by the end of Run.
	hangCompleted int
}

type fakeCall struct {
	url string
	req AnnounceRequest
	at  time.Time
}

var errFake = errors.New("fake tracker down")

func (f *fakeClient) Announce(ctx context.Context, url string, req AnnounceRequest) (AnnounceResponse, error) {
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{url, req, time.Now()})
	fail, resp, block := f.failing[url], f.resp, f.block
	hang := req.Event == EventCompleted && f.hangCompleted > 0
	if hang {
		f.hangCompleted--
	}
	f.mu.Unlock()
	if block && req.Event == EventStopped || hang {
		<-ctx.Done()
		return AnnounceResponse{}, ctx.Err()
	}
	if fail {
		return AnnounceResponse{}, errFake
	}
	return resp, nil
}

func (f *fakeClient) setFailing(urls ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing = make(map[string]bool)
	for _, u := range urls {
		f.failing[u] = true
	}
}

func (f *fakeClient) snapshot() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeClient) waitCalls(t *testing.T, n int) []fakeCall {
	t.Helper()
	wait.For(t, "announces", 10*time.Second, func() bool { return len(f.snapshot()) >= n })
	return f.snapshot()
}

func urlsOf(calls []fakeCall) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.url)
	}
	return out
}

func eventsOf(calls []fakeCall) []Event {
	var out []Event
	for _, c := range calls {
		out = append(out, c.req.Event)
	}
	return out
}

func noShuffle(int, func(i, j int)) {}

// runAnnouncer starts a.Run and returns a stop that cancels it and waits
// for it to return; the test's cleanup calls stop too.
func runAnnouncer(t *testing.T, opts AnnouncerOptions) (*Announcer, func()) {
	t.Helper()
	if opts.Progress == nil {
		opts.Progress = func() Progress { return Progress{Left: 100} }
	}
	if opts.Shuffle == nil {
		opts.Shuffle = noShuffle
	}
	a, err := NewAnnouncer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return")
		}
	}
	t.Cleanup(stop)
	return a, stop
}
