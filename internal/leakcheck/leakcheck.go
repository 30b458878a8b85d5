// Package leakcheck fails tests whose goroutines outlive them. A goroutine
// counts when its stack mentions one of the given markers (a package path
// such as "btfs/btfs/fetch."), so the runtime's and the test runner's own
// goroutines never do.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// settle is how long goroutines get to finish after their owner stopped
// them: they exit promptly, but not always before the owner returns.
const settle = 5 * time.Second

// Main runs the tests and then fails the run if goroutines matching markers
// are still alive. Use it as TestMain's body: os.Exit(leakcheck.Main(m, ...)).
func Main(m *testing.M, markers ...string) int {
	code := m.Run()
	if code == 0 {
		if leaks := wait(markers, 0); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n\n%s\n", strings.Join(leaks, "\n\n"))
			return 1
		}
	}
	return code
}

// Check makes t fail if goroutines matching markers that it started outlive
// it. Call it first in the test, so that its cleanup runs after all others.
func Check(t testing.TB, markers ...string) {
	t.Helper()
	before := len(goroutines(markers))
	t.Cleanup(func() {
		if leaks := wait(markers, before); len(leaks) > 0 {
			t.Errorf("leaked goroutines:\n\n%s", strings.Join(leaks, "\n\n"))
		}
	})
}

// wait polls until at most allowed matching goroutines are left, returning
// their stacks if the deadline passes first.
func wait(markers []string, allowed int) []string {
	deadline := time.Now().Add(settle)
	for {
		leaks := goroutines(markers)
		if len(leaks) <= allowed {
			return nil
		}
		if time.Now().After(deadline) {
			return leaks
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func goroutines(markers []string) []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 || strings.Contains(g, "testing.tRunner") || strings.Contains(g, "testing.(*F)") ||
			strings.Contains(g, "leakcheck.") {
			continue // the caller, running tests
		}
		for _, m := range markers {
			if strings.Contains(g, m) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}
