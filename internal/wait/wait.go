// Package wait is how tests wait for a condition: polled, with a deadline,
// never a bare sleep that hopes the condition has come true.
package wait

import (
	"testing"
	"time"
)

// pollEvery paces For: often enough to add little to a test's time, rarely
// enough not to compete with what the test waits for.
const pollEvery = 5 * time.Millisecond

// For polls cond until it holds, failing the test (naming what it waited
// for) if timeout passes first.
func For(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pollEvery)
	}
}
