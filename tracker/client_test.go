package tracker

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btfs/btfs/metainfo"
)

func TestClientHTTPRoundTrip(t *testing.T) {
	checkLeaks(t)
	_, ts := newHTTPServer(t, ServerOptions{Interval: 42 * time.Second, MinInterval: 10 * time.Second})
	c := NewClient(ClientOptions{})
	ctx := t.Context()
	h := hashN(1)
	url := ts.URL + "/announce"
	if _, err := c.Announce(ctx, url, AnnounceRequest{InfoHash: h, PeerID: idN(1), Port: 1111, Left: 0, Event: EventStarted}); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Announce(ctx, url, AnnounceRequest{InfoHash: h, PeerID: idN(2), Port: 2222, Left: 9, Event: EventStarted, NumWant: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := netip.MustParseAddrPort("127.0.0.1:1111")
	if len(resp.Peers) != 1 || resp.Peers[0].Addr != want || resp.Interval != 42*time.Second ||
		resp.MinInterval != 10*time.Second || resp.Seeders != 1 || resp.Leechers != 1 {
		t.Errorf("announce reply %+v", resp)
	}
	stats, err := c.Scrape(ctx, url, []metainfo.Hash{h, hashN(2)})
	if err != nil {
		t.Fatal(err)
	}
	if stats[h] != (ScrapeStats{Seeders: 1, Leechers: 1}) || len(stats) != 2 {
		t.Errorf("scrape %+v", stats)
	}
	if _, err := Announce(ctx, url, AnnounceRequest{InfoHash: h, PeerID: idN(2), Port: 2222, Event: EventStopped}); err != nil {
		t.Fatal(err)
	}
	if stats, _ := Scrape(ctx, url, []metainfo.Hash{h}); stats[h].Leechers != 0 {
		t.Errorf("after stopped: %+v", stats)
	}
	_, err = c.Announce(ctx, url, AnnounceRequest{InfoHash: h, PeerID: idN(2)}) // port 0
	var fe *FailureError
	if !errors.As(err, &fe) || fe.Reason != string(errBadPort) {
		t.Errorf("port 0: %v", err)
	}
}

func TestClientHTTPReplies(t *testing.T) {
	checkLeaks(t)
	var body atomic.Value // string
	var status atomic.Int64
	var query atomic.Value // string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query.Store(r.URL.RawQuery)
		w.WriteHeader(int(status.Load()))
		w.Write([]byte(body.Load().(string)))
	}))
	defer ts.Close()
	c := NewClient(ClientOptions{})
	id := idN(7)
	v6 := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1})
	tests := []struct {
		name   string
		status int
		body   string
		check  func(AnnounceResponse) bool
		err    string // substring; "failure:" prefix means a *FailureError with that reason
	}{
		{"failure", 200, "d14:failure reason8:go away!e", nil, "failure:go away!"},
		{"failure with status 400", 400, "d14:failure reason3:no!e", nil, "failure:no!"},
		{"status without a reason", 503, "busy", nil, "503"},
		{"not bencode", 200, "<html>", nil, "bad reply"},
		{"not a dictionary", 200, "le", nil, "not a dictionary"},
		{"compact length", 200, "d8:intervali1e5:peers5:abcdee", nil, "multiple of 6"},
		{"peers6 not a string", 200, "d6:peers6lee", nil, "peers6"},
		{"negative interval", 200, "d8:intervali-1ee", nil, "interval"},
		{"oversized", 200, "d1:x" + strings.Repeat("9", 8) + ":" + strings.Repeat("x", maxHTTPResponse) + "e", nil, "reply over"},
		{"everything, keys unsorted", 200,
			"d8:intervali1800e15:warning message4:slow10:tracker id3:abc8:completei3e10:incompletei4e12:min intervali60e" +
				"5:peersl" +
				"d2:ip8:10.0.0.17:peer id20:" + string(id[:]) + "4:porti6881ee" +
				"d2:ip11:example.com4:porti1ee" + // a name: dropped
				"d2:ip11:2001:db8::14:porti2ee" +
				"d2:ip8:10.0.0.24:porti0ee" + // port 0: dropped
				"e6:peers618:" + string(v6.AsSlice()) + "\x1a\xe1e",
			func(r AnnounceResponse) bool {
				want := []Peer{
					{Addr: netip.MustParseAddrPort("10.0.0.1:6881"), ID: id},
					{Addr: netip.MustParseAddrPort("[2001:db8::1]:2")},
					{Addr: netip.AddrPortFrom(v6, 6881)},
				}
				return r.Interval == 30*time.Minute && r.MinInterval == time.Minute && r.Warning == "slow" &&
					r.TrackerID == "abc" && r.Seeders == 3 && r.Leechers == 4 && slicesEqual(r.Peers, want)
			}, ""},
		{"compact", 200, "d8:intervali5e5:peers12:\x0a\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x00e",
			func(r AnnounceResponse) bool {
				return len(r.Peers) == 1 && r.Peers[0].Addr == netip.MustParseAddrPort("10.0.0.1:6881")
			}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body.Store(tt.body)
			status.Store(int64(tt.status))
			resp, err := c.Announce(t.Context(), ts.URL+"/a/announce?passkey=s3cret",
				AnnounceRequest{InfoHash: hashN(1), PeerID: id, Port: 1, TrackerID: "abc"})
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case strings.HasPrefix(tt.err, "failure:"):
				var fe *FailureError
				if !errors.As(err, &fe) || fe.Reason != strings.TrimPrefix(tt.err, "failure:") {
					t.Fatalf("error %v, want a failure %q", err, tt.err)
				}
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want one saying %q", err, tt.err)
			case tt.check != nil && !tt.check(resp):
				t.Fatalf("reply %+v", resp)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error leaks the passkey: %v", err)
			}
		})
	}
	q := query.Load().(string)
	if !strings.HasPrefix(q, "passkey=s3cret&info_hash=") || !strings.Contains(q, "&trackerid=abc") || !strings.Contains(q, "&compact=1") {
		t.Errorf("query %q", q)
	}
}

func slicesEqual(a, b []Peer) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestScrapeURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://t.example/announce", "http://t.example/scrape"},
		{"http://t.example/x/announce.php?passkey=1", "http://t.example/x/scrape.php?passkey=1"},
		{"http://t.example/announce?x=1", "http://t.example/scrape?x=1"},
		{"http://t.example/a", ""},
		{"http://t.example/announce/x", ""},
		{"http://t.example/a%2Fb/announce", "http://t.example/a%2Fb/scrape"},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.in)
		got, err := scrapeURL(u)
		switch {
		case tt.want == "" && !errors.Is(err, ErrScrapeUnsupported):
			t.Errorf("%s: %v, %v; want ErrScrapeUnsupported", tt.in, got, err)
		case tt.want != "" && (err != nil || got.String() != tt.want):
			t.Errorf("%s: %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestClientErrors(t *testing.T) {
	ctx := t.Context()
	for _, u := range []string{"wss://t.example/announce", "udp://127.0.0.1/announce", "%zz"} {
		if _, err := Announce(ctx, u, AnnounceRequest{}); err == nil {
			t.Errorf("announce %q: no error", u)
		}
		if _, err := Scrape(ctx, u, []metainfo.Hash{{}}); err == nil {
			t.Errorf("scrape %q: no error", u)
		}
	}
	if _, err := Scrape(ctx, "udp://127.0.0.1:1", nil); err == nil {
		t.Error("UDP scrape of nothing: no error")
	}
}
