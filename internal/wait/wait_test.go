package wait

import (
	"testing"
	"time"
)

func TestForReturnsOnceTrue(t *testing.T) {
	n := 0
	For(t, "the third poll", time.Second, func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("polled %d times, want 3", n)
	}
}

// fatalRecorder notes a Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (r *fatalRecorder) Helper()               {}
func (r *fatalRecorder) Fatalf(string, ...any) { r.failed = true }

func TestForFailsAfterTimeout(t *testing.T) {
	r := &fatalRecorder{TB: t}
	start := time.Now()
	For(r, "nothing", 20*time.Millisecond, func() bool { return r.failed })
	if !r.failed || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("failed %v after %v", r.failed, time.Since(start))
	}
}
