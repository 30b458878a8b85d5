package tracker

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestAnnounceCompact(t *testing.T) {
	checkLeaks(t)
	_, ts := newHTTPServer(t, ServerOptions{Interval: 90 * time.Second, MinInterval: 30 * time.Second})
	h := hashN(1)
	for port := 1001; port <= 1002; port++ {
		get(t, ts, "/announce", announceQuery(h, port, port, 100, "event=started"))
	}
	v := get(t, ts, "/announce", announceQuery(h, 1003, 1003, 100, "event=started"))
	if r := failureReason(v); r != "" {
		t.Fatalf("failure: %s", r)
	}
	if intOf(t, v, "interval") != 90 || intOf(t, v, "min interval") != 30 {
		t.Errorf("intervals: %s", v.Raw())
	}
	if intOf(t, v, "complete") != 0 || intOf(t, v, "incomplete") != 3 {
		t.Errorf("counts: %s", v.Raw())
	}
	peers := bytesOf(t, v, "peers")
	ports := compactPorts(t, peers, 6)
	slices.Sort(ports)
	if !slices.Equal(ports, []int{1001, 1002}) {
		t.Errorf("ports %v, want the two others", ports)
	}
	if [4]byte(peers[:4]) != [4]byte{127, 0, 0, 1} {
		t.Errorf("peer IP %v, want 127.0.0.1", peers[:4])
	}
	if v.Has("peers6") {
		t.Errorf("peers6 without IPv6 peers: %s", v.Raw())
	}
}

func TestAnnounceDictModel(t *testing.T) {
	checkLeaks(t)
	// ip= makes IPv6 peers of loopback clients: trust loopback's claims.
	_, ts := newHTTPServer(t, ServerOptions{TrustIPFrom: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	h := hashN(1)
	get(t, ts, "/announce", announceQuery(h, 1, 2001, 10))
	get(t, ts, "/announce", announceQuery(h, 2, 2002, 10, "ip=::1"))
	for _, noID := range []bool{false, true} {
		extra := []string{"compact=0"}
		if noID {
			extra = append(extra, "no_peer_id=1")
		}
		v := get(t, ts, "/announce", announceQuery(h, 3, 2003, 10, extra...))
		got := map[string]bool{}
		for p := range v.Get("peers").Items() {
			ip, _ := p.Get("ip").Str()
			port, _ := p.Get("port").Int()
			id, hasID := p.Get("peer id").Bytes()
			got[netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(port)).String()] = true
			if hasID == noID {
				t.Errorf("no_peer_id=%v but peer id present=%v: %s", noID, hasID, p.Raw())
			}
			if hasID && port == 2001 && [20]byte(id) != idN(1) {
				t.Errorf("peer id %q, want %q", id, idN(1))
			}
		}
		if len(got) != 2 || !got["127.0.0.1:2001"] || !got["[::1]:2002"] {
			t.Errorf("no_peer_id=%v: peers %v", noID, got)
		}
	}
}

func TestAnnouncePeers6(t *testing.T) {
	checkLeaks(t)
	// ip= makes IPv6 peers of loopback clients: trust loopback's claims.
	_, ts := newHTTPServer(t, ServerOptions{TrustIPFrom: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	h := hashN(1)
	get(t, ts, "/announce", announceQuery(h, 1, 3001, 10, "ip=::1"))
	get(t, ts, "/announce", announceQuery(h, 2, 3002, 10, "ip=fd00::2"))
	get(t, ts, "/announce", announceQuery(h, 3, 3003, 10))
	v := get(t, ts, "/announce", announceQuery(h, 4, 3004, 10))
	if got := compactPorts(t, bytesOf(t, v, "peers"), 6); !slices.Equal(got, []int{3003}) {
		t.Errorf("peers: ports %v, want [3003]", got)
	}
	p6 := bytesOf(t, v, "peers6")
	ports := compactPorts(t, p6, 18)
	slices.Sort(ports)
	if !slices.Equal(ports, []int{3001, 3002}) {
		t.Errorf("peers6: ports %v", ports)
	}
	for ; len(p6) > 0; p6 = p6[18:] {
		a := netip.AddrFrom16([16]byte(p6))
		if a != netip.MustParseAddr("::1") && a != netip.MustParseAddr("fd00::2") {
			t.Errorf("peers6 address %v", a)
		}
	}
}

func TestNumWant(t *testing.T) {
	checkLeaks(t)
	_, ts := newHTTPServer(t, ServerOptions{DefaultNumWant: 5, MaxNumWant: 10})
	h := hashN(1)
	for i := range 30 {
		get(t, ts, "/announce", announceQuery(h, i, 4000+i, 10))
	}
	tests := []struct {
		extra string
		want  int
	}{
		{"", 5}, {"numwant=3", 3}, {"numwant=10", 10}, {"numwant=100", 10}, {"numwant=0", 0},
	}
	for _, tt := range tests {
		v := get(t, ts, "/announce", announceQuery(h, 99, 4099, 10, tt.extra))
		ports := compactPorts(t, bytesOf(t, v, "peers"), 6)
		if len(ports) != tt.want {
			t.Errorf("%q: %d peers, want %d", tt.extra, len(ports), tt.want)
		}
		if slices.Contains(ports, 4099) {
			t.Errorf("%q: got itself", tt.extra)
		}
		slices.Sort(ports)
		if len(slices.Compact(ports)) != len(ports) {
			t.Errorf("%q: a peer twice: %v", tt.extra, ports)
		}
	}
}

func TestSeederGetsLeechersFirst(t *testing.T) {
	checkLeaks(t)
	_, ts := newHTTPServer(t, ServerOptions{})
	h := hashN(1)
	for i := range 3 {
		get(t, ts, "/announce", announceQuery(h, i, 5000+i, 0)) // seeders 5000-5002
	}
	for i := range 2 {
		get(t, ts, "/announce", announceQuery(h, 10+i, 5010+i, 50)) // leechers 5010, 5011
	}
	v := get(t, ts, "/announce", announceQuery(h, 0, 5000, 0, "&numwant=2"))
	ports := compactPorts(t, bytesOf(t, v, "peers"), 6)
	slices.Sort(ports)
	if !slices.Equal(ports, []int{5010, 5011}) {
		t.Errorf("seeder asking for 2 got %v, want the leechers", ports)
	}
	// With room left, the other seeders follow: a client announcing left=0
	// before it knows the torrent (a magnet's metadata) needs them.
	v = get(t, ts, "/announce", announceQuery(h, 0, 5000, 0))
	ports = compactPorts(t, bytesOf(t, v, "peers"), 6)
	slices.Sort(ports)
	if !slices.Equal(ports, []int{5001, 5002, 5010, 5011}) {
		t.Errorf("seeder got %v, want the leechers, then the other seeders", ports)
	}
	v = get(t, ts, "/announce", announceQuery(h, 10, 5010, 50))
	ports = compactPorts(t, bytesOf(t, v, "peers"), 6)
	slices.Sort(ports)
	if !slices.Equal(ports, []int{5000, 5001, 5002, 5011}) {
		t.Errorf("leecher got %v, want everyone else", ports)
	}
	if intOf(t, v, "complete") != 3 || intOf(t, v, "incomplete") != 2 {
		t.Errorf("counts: %s", v.Raw())
	}
}

func TestStoppedRemoves(t *testing.T) {
	checkLeaks(t)
	s, ts := newHTTPServer(t, ServerOptions{})
	h := hashN(1)
	get(t, ts, "/announce", announceQuery(h, 1, 6001, 10))
	get(t, ts, "/announce", announceQuery(h, 2, 6002, 10))
	v := get(t, ts, "/announce", announceQuery(h, 1, 6001, 10, "event=stopped"))
	if intOf(t, v, "incomplete") != 1 || len(bytesOf(t, v, "peers")) != 0 {
		t.Errorf("stopped reply: %s", v.Raw())
	}
	v = get(t, ts, "/announce", announceQuery(h, 2, 6002, 10))
	if len(bytesOf(t, v, "peers")) != 0 {
		t.Errorf("stopped peer still handed out: %s", v.Raw())
	}
	// A stopped announce from a stranger changes nothing.
	get(t, ts, "/announce", announceQuery(hashN(2), 3, 6003, 10, "event=stopped"))
	if st := s.Stats(); st.Torrents != 1 || st.Leechers != 1 || st.Announces != 5 || st.HTTPAnnounces != 5 || st.UDPAnnounces != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestExpiry(t *testing.T) {
	checkLeaks(t)
	clock := newFakeClock()
	s, ts := newHTTPServer(t, ServerOptions{Interval: time.Minute, Now: clock.Now})
	h, other := hashN(1), hashN(2)
	get(t, ts, "/announce", announceQuery(h, 1, 7001, 10))     // goes silent
	get(t, ts, "/announce", announceQuery(h, 2, 7002, 10))     // keeps announcing
	get(t, ts, "/announce", announceQuery(other, 3, 7003, 10)) // goes silent, alone
	for range 3 {
		clock.Advance(50 * time.Second)
		get(t, ts, "/announce", announceQuery(h, 2, 7002, 10))
	}
	// 150 s on, past two intervals: 7001 and the other torrent are gone.
	v := get(t, ts, "/announce", announceQuery(h, 4, 7004, 10))
	if got := compactPorts(t, bytesOf(t, v, "peers"), 6); !slices.Equal(got, []int{7002}) {
		t.Errorf("peers %v, want only the one that kept announcing", got)
	}
	if st := s.Stats(); st.Torrents != 1 || st.Leechers != 2 {
		t.Errorf("stats after expiry: %+v", st)
	}
	clock.Advance(time.Hour)
	if st := s.Stats(); st.Torrents != 0 || st.Leechers != 0 || st.Seeders != 0 {
		t.Errorf("stats after everyone left: %+v", st)
	}
}

func TestCompletedCounted(t *testing.T) {
	checkLeaks(t)
	_, ts := newHTTPServer(t, ServerOptions{})
	h := hashN(1)
	get(t, ts, "/announce", announceQuery(h, 1, 8001, 10, "event=started"))
	get(t, ts, "/announce", announceQuery(h, 1, 8001, 0, "event=completed"))
	get(t, ts, "/announce", announceQuery(h, 1, 8001, 0, "event=completed")) // a seeder repeating itself
	v := get(t, ts, "/scrape", "info_hash="+esc(h[:]))
	f := v.Get("files").Get(string(h[:]))
	if intOf(t, f, "downloaded") != 1 || intOf(t, f, "complete") != 1 || intOf(t, f, "incomplete") != 0 {
		t.Errorf("scrape: %s", f.Raw())
	}
}

func TestAllowList(t *testing.T) {
	checkLeaks(t)
	ok, no := hashN(1), hashN(2)
	s, ts := newHTTPServer(t, ServerOptions{Allow: AllowOnly(ok)})
	if v := get(t, ts, "/announce", announceQuery(ok, 1, 9001, 10)); failureReason(v) != "" {
		t.Errorf("allowed torrent refused: %s", v.Raw())
	}
	if v := get(t, ts, "/announce", announceQuery(no, 1, 9001, 10)); failureReason(v) != string(errNotAllowed) {
		t.Errorf("other torrent: %s", v.Raw())
	}
	v := get(t, ts, "/scrape", "info_hash="+esc(ok[:])+"&info_hash="+esc(no[:]))
	if files := v.Get("files"); files.Len() != 1 || !files.Has(string(ok[:])) {
		t.Errorf("scrape: %s", v.Raw())
	}
	if st := s.Stats(); st.Torrents != 1 || st.Errors != 1 {
		t.Errorf("stats %+v", st)
	}
}
