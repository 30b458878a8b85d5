package fs

import (
	"testing"
	"time"
)

// A READ's clock starts at the first time its range was asked for: it
// carries on across retries of what was left unanswered, but not past a
// served range or a pause longer than retryWindow.
func TestAsksClock(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		off, end int64
		now      time.Duration // when the READ comes
		took     time.Duration // until it ends
		served   bool
		first    time.Duration // the clock the READ gets
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a fresh range", []step{{0, 4096, 0, 0, true, 0}, {0, 4096, time.Second, 0, true, time.Second}}},
		{"the kernel's retry of its timed-out readahead", []step{
			{0, 1 << 17, 0, 5 * time.Second, false, 0}, {0, 4096, 5 * time.Second, 0, false, 0},
		}},
		{"interrupted again and again", []step{
			{8192, 12288, 0, 10 * time.Millisecond, false, 0}, {8192, 12288, 10 * time.Millisecond, 10 * time.Millisecond, false, 0},
			{8192, 12288, 20 * time.Millisecond, 10 * time.Millisecond, false, 0}, {4096, 16384, 30 * time.Millisecond, 0, false, 0},
		}},
		{"asked again after a pause", []step{{0, 4096, 0, 0, false, 0}, {0, 4096, 3 * time.Second, 0, false, 3 * time.Second}}},
		{"a range elsewhere", []step{{0, 4096, 0, 0, false, 0}, {4096, 8192, 100 * time.Millisecond, 0, false, 100 * time.Millisecond}}},
		{"served, then read again", []step{
			{0, 4096, 0, 0, false, 0}, {0, 4096, 10 * time.Millisecond, 0, true, 0}, {0, 4096, 20 * time.Millisecond, 0, true, 20 * time.Millisecond},
		}},
	}
	for _, tt := range tests {
		var a asks
		for i, s := range tt.steps {
			k := a.begin(s.off, s.end, at(s.now))
			if !k.first.Equal(at(s.first)) {
				t.Errorf("%s, step %d: the clock starts at %v, want %v", tt.name, i, k.first.Sub(t0), s.first)
			}
			a.done(k, s.served, at(s.now+s.took))
		}
	}
}

// A READ in flight lends its clock to an overlapping one (two threads
// reading one handle), and the remembered ranges stay bounded however many
// READs a handle sees.
func TestAsksInFlightAndBound(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var a asks
	first := a.begin(0, 1<<20, t0)
	if k := a.begin(4096, 8192, t0.Add(time.Minute)); !k.first.Equal(t0) {
		t.Fatalf("a READ overlapping one in flight starts at %v", k.first.Sub(t0))
	}
	for i := range 10 * maxAsks {
		a.begin(int64(i)<<20+(2<<20), int64(i+1)<<20+(2<<20), t0)
	}
	if len(a.list) > maxAsks {
		t.Fatalf("%d ranges remembered, bound %d", len(a.list), maxAsks)
	}
	a.done(first, true, t0) // one dropped from the list: nothing breaks
}
