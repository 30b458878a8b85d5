package tracker

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/metainfo"
)

// TestBadAnnounces checks that every malformed announce gets a failure
// reason and leaves the swarm as it was.
func TestBadAnnounces(t *testing.T) {
	checkLeaks(t)
	s, ts := newHTTPServer(t, ServerOptions{})
	h := hashN(1)
	get(t, ts, "/announce", announceQuery(h, 1, 1001, 10))
	before := s.Stats()
	id := idN(2)
	ih, pid := "info_hash="+esc(h[:]), "&peer_id="+esc(id[:])
	tests := []struct {
		name, query string
		want        failure
	}{
		{"no info_hash", pid[1:] + "&port=1&left=0", errMissingInfoHash},
		{"short info_hash", "info_hash=abc" + pid + "&port=1&left=0", errBadInfoHash},
		{"no peer_id", ih + "&port=1&left=0", errMissingPeerID},
		{"long peer_id", ih + pid + "X&port=1&left=0", errBadPeerID},
		{"port 0", ih + pid + "&port=0&left=0", errBadPort},
		{"port too big", ih + pid + "&port=70000&left=0", errBadPort},
		{"non-numeric", ih + pid + "&port=1&left=0&uploaded=lots", errBadNumber},
		{"negative", ih + pid + "&port=1&left=-1", errBadNumber},
		{"unknown event", ih + pid + "&port=1&left=0&event=exploded", errBadEvent},
		{"oversized", ih + pid + "&port=1&left=0&pad=" + strings.Repeat("x", maxAnnounceQuery), errQueryTooLong},
		{"bad escape", ih + pid + "&port=1&left=0&x=%GG", errBadEscape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := get(t, ts, "/announce", tt.query)
			if got := failureReason(v); got != string(tt.want) {
				t.Errorf("failure reason %q, want %q", got, tt.want)
			}
			if v.Len() != 1 {
				t.Errorf("a failure carries only its reason: %s", v.Raw())
			}
		})
	}
	after := s.Stats()
	if after.Torrents != before.Torrents || after.Leechers != before.Leechers || after.Seeders != before.Seeders ||
		after.Announces != before.Announces {
		t.Errorf("bad input changed state: %+v -> %+v", before, after)
	}
	if after.Errors != before.Errors+uint64(len(tests)) {
		t.Errorf("errors counted %d, want %d", after.Errors-before.Errors, len(tests))
	}
}

func TestScrape(t *testing.T) {
	checkLeaks(t)
	s, ts := newHTTPServer(t, ServerOptions{})
	h1, h2, unknown := hashN(1), hashN(2), hashN(3)
	get(t, ts, "/announce", announceQuery(h1, 1, 1001, 0))
	get(t, ts, "/announce", announceQuery(h1, 2, 1002, 5))
	get(t, ts, "/announce", announceQuery(h2, 3, 1003, 5))
	q := "info_hash=" + esc(h2[:]) + "&info_hash=" + esc(h1[:]) + "&info_hash=" + esc(unknown[:]) + "&info_hash=" + esc(h1[:])
	files := get(t, ts, "/scrape", q).Get("files") // strict parse: keys sorted, no duplicates
	want := map[metainfo.Hash][3]int64{h1: {1, 1, 0}, h2: {0, 1, 0}, unknown: {0, 0, 0}}
	if files.Len() != len(want) {
		t.Fatalf("files: %s", files.Raw())
	}
	for h, w := range want {
		f := files.Get(string(h[:]))
		got := [3]int64{intOf(t, f, "complete"), intOf(t, f, "incomplete"), intOf(t, f, "downloaded")}
		if got != w {
			t.Errorf("%v: got %v, want %v", h, got, w)
		}
	}
	for _, bad := range []struct {
		q    string
		want failure
	}{
		{"", errNoScrapeHash},
		{"info_hash=short", errBadInfoHash},
		{strings.Repeat("info_hash="+esc(h1[:])+"&", maxScrapeHashes+1), errTooManyHashes},
		{"info_hash=" + esc(h1[:]) + "&pad=" + strings.Repeat("x", maxScrapeQuery), errQueryTooLong},
	} {
		if got := failureReason(get(t, ts, "/scrape", bad.q)); got != string(bad.want) {
			t.Errorf("scrape %.40q: failure %q, want %q", bad.q, got, bad.want)
		}
	}
	if st := s.Stats(); st.Scrapes != 1 || st.Errors != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestLimits(t *testing.T) {
	checkLeaks(t)
	s, ts := newHTTPServer(t, ServerOptions{MaxTorrents: 2, MaxPeersPerTorrent: 2})
	get(t, ts, "/announce", announceQuery(hashN(1), 1, 1001, 5))
	get(t, ts, "/announce", announceQuery(hashN(1), 2, 1002, 5))
	v := get(t, ts, "/announce", announceQuery(hashN(1), 3, 1003, 5))
	if failureReason(v) != "" || len(bytesOf(t, v, "peers")) != 12 || intOf(t, v, "incomplete") != 2 {
		t.Errorf("over the per-torrent limit: want served, not stored: %s", v.Raw())
	}
	get(t, ts, "/announce", announceQuery(hashN(2), 4, 1004, 5))
	if v := get(t, ts, "/announce", announceQuery(hashN(3), 5, 1005, 5)); failureReason(v) != string(errTooManyTorrents) {
		t.Errorf("over the torrent limit: %s", v.Raw())
	}
	if st := s.Stats(); st.Torrents != 2 || st.Leechers != 3 {
		t.Errorf("stats %+v", st)
	}

	s, ts = newHTTPServer(t, ServerOptions{MaxPeers: 2})
	get(t, ts, "/announce", announceQuery(hashN(1), 1, 1001, 5))
	get(t, ts, "/announce", announceQuery(hashN(2), 2, 1002, 5))
	get(t, ts, "/announce", announceQuery(hashN(2), 3, 1003, 5))     // known torrent, no room
	v = get(t, ts, "/announce", announceQuery(hashN(3), 4, 1004, 5)) // new torrent, no room
	if failureReason(v) != "" {
		t.Errorf("over the peer limit: want served: %s", v.Raw())
	}
	if st := s.Stats(); st.Torrents != 2 || st.Leechers != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestStatsAndRouting(t *testing.T) {
	checkLeaks(t)
	_, ts := newHTTPServer(t, ServerOptions{})
	get(t, ts, "/announce", announceQuery(hashN(1), 1, 1001, 0))
	get(t, ts, "/announce", announceQuery(hashN(1), 2, 1002, 7))
	resp, err := ts.Client().Get(ts.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st Stats
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st != (Stats{Torrents: 1, Seeders: 1, Leechers: 1, Announces: 2, HTTPAnnounces: 2}) {
		t.Errorf("stats %+v", st)
	}
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/", http.StatusNotFound},
		{http.MethodGet, "/announce.php", http.StatusNotFound},
		{http.MethodPost, "/announce", http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(tt.method, ts.URL+tt.path, nil)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
		}
	}
}

func TestServerOptions(t *testing.T) {
	for _, o := range []ServerOptions{{Interval: -1}, {MaxPeers: -1}, {Interval: time.Millisecond}} {
		if _, err := NewServer(o); err == nil {
			t.Errorf("NewServer(%+v) accepted", o)
		}
	}
	s, err := NewServer(ServerOptions{Interval: time.Minute, DefaultNumWant: 500})
	if err != nil {
		t.Fatal(err)
	}
	if s.opts.MinInterval != time.Minute || s.opts.DefaultNumWant != defaultMaxNumWant {
		t.Errorf("defaults: %+v", s.opts)
	}
}
