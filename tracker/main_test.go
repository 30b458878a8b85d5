package tracker

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/leakcheck"

	"github.com/btfs/btfs/bencode"
	"github.com/btfs/btfs/metainfo"
)

// leakMarkers name the goroutines that must not outlive a test: this
// package's, and HTTP connections it opened or served.
var leakMarkers = []string{"btfs/btfs/tracker.", "net/http.(*persistConn)", "net/http.(*conn).serve"}

// TestMain fails the run if any goroutine of this package, or an HTTP
// connection, outlives the tests.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.Main(m, leakMarkers...))
}

// checkLeaks makes the test fail if goroutines it started outlive it. Call
// it first, so that its cleanup runs after every other one.
func checkLeaks(t *testing.T) {
	t.Helper()
	leakcheck.Check(t, leakMarkers...)
}

// fakeClock is a settable clock for expiry tests.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// hashN and idN make distinct, recognisable info-hashes and peer ids, with
// bytes that need escaping.
func hashN(n int) metainfo.Hash {
	var h metainfo.Hash
	for i := range h {
		h[i] = byte(n*31 + i*7)
	}
	return h
}

func idN(n int) [20]byte {
	var id [20]byte
	copy(id[:], fmt.Sprintf("-BT0001-%012d", n))
	return id
}

func esc(b []byte) string { return string(appendEscaped(nil, b)) }

// announceQuery is a valid announce query for torrent h from peer n at
// port, followed by extra parameters.
func announceQuery(h metainfo.Hash, n int, port int, left int64, extra ...string) string {
	id := idN(n)
	q := fmt.Sprintf("info_hash=%s&peer_id=%s&port=%d&uploaded=0&downloaded=0&left=%d", esc(h[:]), esc(id[:]), port, left)
	for _, e := range extra {
		q += "&" + e
	}
	return q
}

// newHTTPServer serves a Server over httptest on loopback.
func newHTTPServer(t *testing.T, opts ServerOptions) (*Server, *httptest.Server) {
	t.Helper()
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

// get fetches path?query and parses the reply strictly, which also checks
// that the server writes canonical bencoding.
func get(t *testing.T, ts *httptest.Server, path, query string) bencode.Value {
	t.Helper()
	return getVia(t, ts.Client(), ts.URL+path+"?"+query)
}

// getVia is get through client c, for a URL.
func getVia(t *testing.T, c *http.Client, url string) bencode.Value {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	v, err := bencode.Parse(body)
	if err != nil {
		t.Fatalf("GET %s: reply %q: %v", url, body, err)
	}
	return v
}

func intOf(t *testing.T, v bencode.Value, key string) int64 {
	t.Helper()
	n, ok := v.Get(key).Int()
	if !ok {
		t.Fatalf("%q: no integer in %s", key, v.Raw())
	}
	return n
}

func bytesOf(t *testing.T, v bencode.Value, key string) []byte {
	t.Helper()
	b, ok := v.Get(key).Bytes()
	if !ok {
		t.Fatalf("%q: no string in %s", key, v.Raw())
	}
	return b
}

func failureReason(v bencode.Value) string {
	s, _ := v.Get("failure reason").Str()
	return s
}

// compactPorts returns the ports of 6- or 18-byte compact peers.
func compactPorts(t *testing.T, b []byte, size int) []int {
	t.Helper()
	if len(b)%size != 0 {
		t.Fatalf("compact peers of %d bytes, not a multiple of %d", len(b), size)
	}
	var ports []int
	for ; len(b) > 0; b = b[size:] {
		ports = append(ports, int(b[size-2])<<8|int(b[size-1]))
	}
	return ports
}
