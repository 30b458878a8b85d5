package magnet

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestParseSkipsBadPeers: an unusable x.pe is skipped with a warning naming
// it and why; the rest of the link (other peers, trackers) loads.
func TestParseSkipsBadPeers(t *testing.T) {
	for _, tc := range []struct{ name, peer, why string }{
		{"peer without port", "1.2.3.4", "want host:port"},
		{"peer with port 0", "1.2.3.4:0", "not 1 to 65535"},
		{"peer with a big port", "1.2.3.4:65536", "not 1 to 65535"},
		{"IPv6 peer without brackets", "2001:db8::1:80", "want host:port"},
		{"peer with a bad host", "a_b:80", "neither an IP address nor a host name"},
		{"bracketed host name", "[host]:80", "neither an IP address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uri := "magnet:?xt=urn:btih:" + hexHash + "&x.pe=10.0.0.1:1&x.pe=" + tc.peer + "&tr=http://t/a&x.pe=10.0.0.2:2"
			l, err := Parse(uri)
			if err != nil {
				t.Fatalf("one bad x.pe refused the link: %v", err)
			}
			want := Link{InfoHash: hash, Trackers: [][]string{{"http://t/a"}}, Peers: []string{"10.0.0.1:1", "10.0.0.2:2"}}
			warnings := l.Warnings
			l.Warnings = nil
			if !reflect.DeepEqual(l, want) {
				t.Fatalf("got  %#v\nwant %#v", l, want)
			}
			if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "x.pe="+tc.peer+" skipped") || !strings.Contains(warnings[0], tc.why) {
				t.Fatalf("warnings %q; want one naming x.pe=%s and saying %q", warnings, tc.peer, tc.why)
			}
		})
	}
}

// TestParseWarningsBounded: a link of many bad peers gives at most
// MaxWarnings warnings, the last counting the rest.
func TestParseWarningsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("magnet:?xt=urn:btih:" + hexHash)
	const bad = 1000
	for i := range bad {
		fmt.Fprintf(&b, "&x.pe=bad_%d:1", i)
	}
	l, err := Parse(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Peers) != 0 || len(l.Warnings) != MaxWarnings {
		t.Fatalf("%d peers, %d warnings; want 0 and %d", len(l.Peers), len(l.Warnings), MaxWarnings)
	}
	if want := fmt.Sprintf("and %d more", bad-(MaxWarnings-1)); !strings.HasPrefix(l.Warnings[MaxWarnings-1], want) {
		t.Fatalf("last warning %q, want it to start %q", l.Warnings[MaxWarnings-1], want)
	}
	if _, err := Parse("magnet:?x.pe=1.2.3.4"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a link of one bad peer and no hash: %v, want ErrInvalid", err)
	}
}
