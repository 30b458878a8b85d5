package wire

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/bencode"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestPexRoundTrip(t *testing.T) {
	m := PexMessage{
		Added: []PexPeer{
			{ap("10.0.0.1:6881"), PexSeed | PexReachable},
			{ap("[2001:db8::1]:51413"), PexUTP},
			{ap("[::ffff:10.0.0.2]:1"), 0}, // mapped: goes out as IPv4
		},
		Dropped: []netip.AddrPort{ap("192.0.2.7:80"), ap("[2001:db8::2]:443")},
	}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := "d5:added12:\x0a\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x01" + "7:added.f2:\x12\x00" +
		"6:added618:\x20\x01\x0d\xb8" + strings.Repeat("\x00", 11) + "\x01\xc8\xd5" + "8:added6.f1:\x04" +
		"7:dropped6:\xc0\x00\x02\x07\x00\x50" + "8:dropped618:\x20\x01\x0d\xb8" + strings.Repeat("\x00", 11) + "\x02\x01\xbbe"
	if string(b) != want {
		t.Fatalf("encoded\n%q\nwant\n%q", b, want)
	}
	if _, err := bencode.Parse(b); err != nil {
		t.Fatalf("not canonical: %v", err)
	}
	got, err := ParsePexMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	m.Added[2].Addr = ap("10.0.0.2:1")
	slices.SortFunc(m.Added, func(a, b PexPeer) int { return a.Addr.Compare(b.Addr) })
	slices.SortFunc(got.Added, func(a, b PexPeer) int { return a.Addr.Compare(b.Addr) })
	if !slices.Equal(got.Added, m.Added) || !slices.Equal(got.Dropped, m.Dropped) {
		t.Fatalf("parsed %+v, want %+v", got, m)
	}
	empty, err := PexMessage{}.Encode()
	if err != nil || string(empty) != "d5:added0:7:added.f0:6:added60:8:added6.f0:7:dropped0:8:dropped60:e" {
		t.Fatalf("empty message: %q, %v", empty, err)
	}
}

// compact returns n distinct compact IPv4 peers.
func compact(n int) string {
	var b []byte
	for i := range n {
		b = append(b, 10, 1, byte(i>>8), byte(i), 0x1a, 0xe1)
	}
	return string(b)
}

func TestParsePex(t *testing.T) {
	for _, tc := range []struct {
		name, in      string
		added, droppd int
		flags         PexFlags // of the first added peer
		err           bool
	}{
		{name: "minimal", in: "de"},
		{name: "ipv4 with flags", in: "d5:added6:" + compact(1) + "7:added.f1:\x02e", added: 1, flags: PexSeed},
		{name: "flags of the wrong length ignored", in: "d5:added12:" + compact(2) + "7:added.f1:\x02e", added: 2},
		{name: "unsorted keys and trailing bytes", in: "d7:dropped6:" + compact(1) + "5:added6:" + compact(1) + "1:xi1eeXY", added: 1, droppd: 1},
		{name: "50 added and 50 dropped", in: "d5:added300:" + compact(50) + "7:dropped300:" + compact(50) + "e", added: 50, droppd: 50},
		{name: "51 added", in: "d5:added306:" + compact(51) + "e", err: true},
		{name: "50+1 added across families", in: "d5:added300:" + compact(50) + "6:added618:" + strings.Repeat("\x20", 18) + "e", err: true},
		{name: "51 dropped", in: "d7:dropped306:" + compact(51) + "e", err: true},
		{name: "unusable peers skipped", in: "d5:added18:\x00\x00\x00\x00\x1a\xe1\x0a\x00\x00\x01\x00\x00\xe0\x00\x00\x01\x1a\xe1e"},
		{name: "duplicates skipped", in: "d5:added12:" + compact(1) + compact(1) + "e", added: 1},
		{name: "partial entry", in: "d5:added5:\x0a\x00\x00\x01\x1ae", err: true},
		{name: "partial ipv6 entry", in: "d6:added66:" + compact(1) + "e", err: true},
		{name: "list instead of string", in: "d7:droppedli1eee", err: true},
		{name: "not a dictionary", in: "le", err: true},
		{name: "garbage", in: "d5:added", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParsePexMessage([]byte(tc.in))
			if tc.err {
				if !errors.Is(err, ErrBadPex) {
					t.Fatalf("got %+v, %v; want ErrBadPex", m, err)
				}
				return
			}
			if err != nil || len(m.Added) != tc.added || len(m.Dropped) != tc.droppd {
				t.Fatalf("got %d added, %d dropped, %v; want %d, %d", len(m.Added), len(m.Dropped), err, tc.added, tc.droppd)
			}
			if tc.added > 0 && m.Added[0].Flags != tc.flags {
				t.Errorf("flags %#x, want %#x", m.Added[0].Flags, tc.flags)
			}
		})
	}
	if _, err := ParsePexMessage(bytes.Repeat([]byte{'x'}, MaxExtendedPayload+1)); !errors.Is(err, ErrBadPex) {
		t.Errorf("oversized payload: %v", err)
	}
}

func TestEncodePexRefuses(t *testing.T) {
	many := make([]PexPeer, MaxPexPeers+1)
	for i := range many {
		many[i].Addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 1)
	}
	for _, m := range []PexMessage{
		{Added: many},
		{Dropped: make([]netip.AddrPort, MaxPexPeers+1)},
		{Added: []PexPeer{{Addr: ap("10.0.0.1:0")}}},
		{Added: []PexPeer{{}}},
		{Dropped: []netip.AddrPort{ap("224.0.0.1:1")}},
		{Added: []PexPeer{{Addr: ap("10.0.0.1:1")}, {Addr: ap("[::ffff:10.0.0.1]:1")}}},
	} {
		if _, err := m.Encode(); !errors.Is(err, ErrBadPex) {
			t.Errorf("Encode(%v): %v, want ErrBadPex", m, err)
		}
	}
}

// peers returns connected peers 10.0.0.i:6881 for each i.
func peers(is ...int) []PexPeer {
	var out []PexPeer
	for _, i := range is {
		out = append(out, PexPeer{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 6881)})
	}
	return out
}

func addrs(ps []PexPeer) []netip.AddrPort {
	var out []netip.AddrPort
	for _, p := range ps {
		out = append(out, p.Addr)
	}
	return out
}

func TestPexState(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	remote := peers(1)[0].Addr
	s := PexState{Remote: remote}

	if _, ok := s.Next(t0, peers(1)); ok {
		t.Fatal("a message listing only the remote itself")
	}
	m, ok := s.Next(t0, append(peers(1, 2, 3), PexPeer{Addr: ap("10.0.0.9:0")}))
	if !ok || !slices.Equal(addrs(m.Added), addrs(peers(2, 3))) || len(m.Dropped) != 0 {
		t.Fatalf("first message: %+v, %v", m, ok)
	}
	if at := s.NextAt(); !at.Equal(t0.Add(PexInterval)) {
		t.Errorf("NextAt %v, want %v", at, t0.Add(PexInterval))
	}
	if _, ok := s.Next(t0.Add(PexInterval-time.Second), peers(1, 3, 4)); ok {
		t.Fatal("second message within a minute")
	}
	t1 := t0.Add(PexInterval)
	m, ok = s.Next(t1, peers(1, 3, 4))
	if !ok || !slices.Equal(addrs(m.Added), addrs(peers(4))) || !slices.Equal(m.Dropped, addrs(peers(2))) {
		t.Fatalf("diff message: %+v, %v", m, ok)
	}
	t2 := t1.Add(2 * PexInterval)
	if _, ok := s.Next(t2, peers(1, 3, 4)); ok {
		t.Fatal("a message with no change")
	}
	// A change after a quiet spell goes out at once.
	if m, ok = s.Next(t2, peers(3)); !ok || len(m.Added) != 0 || !slices.Equal(m.Dropped, addrs(peers(4))) {
		t.Fatalf("after a quiet spell: %+v, %v", m, ok)
	}
}

// TestPexStateLimit: 120 peers go out 50 per minute, in address order, and
// 60 that leave go out as 50 dropped then 10.
func TestPexStateLimit(t *testing.T) {
	var all []int
	for i := range 120 {
		all = append(all, 100+i)
	}
	var s PexState
	now := time.Unix(1e9, 0)
	var told []netip.AddrPort
	for _, want := range []int{50, 50, 20} {
		m, ok := s.Next(now, peers(all...))
		if !ok || len(m.Added) != want || len(m.Dropped) != 0 {
			t.Fatalf("got %d added, %v; want %d", len(m.Added), ok, want)
		}
		told = append(told, addrs(m.Added)...)
		now = now.Add(PexInterval)
	}
	if !slices.Equal(told, addrs(peers(all...))) {
		t.Fatal("peers not added once each, in address order")
	}
	for _, want := range []int{50, 10} {
		m, ok := s.Next(now, peers(all[60:]...))
		if !ok || len(m.Dropped) != want || len(m.Added) != 0 {
			t.Fatalf("got %d dropped, %v; want %d", len(m.Dropped), ok, want)
		}
		if _, err := m.Encode(); err != nil {
			t.Fatal(err)
		}
		now = now.Add(PexInterval)
	}
}

// FuzzPexMessage parses arbitrary payloads. Nothing may panic; a message
// parsed must encode (canonically, within the limits) and parse back the
// same.
func FuzzPexMessage(f *testing.F) {
	for _, s := range []string{
		"de", "d5:added6:" + compact(1) + "7:added.f1:\x12e", "d5:added300:" + compact(50) + "e",
		"d6:added618:" + strings.Repeat("\x20", 18) + "8:added6.f1:\x04" + "8:dropped618:" + strings.Repeat("\xfe", 18) + "e",
		"d7:dropped12:" + compact(2) + "e", "d5:added5:abcdee", "le", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		m, err := ParsePexMessage(payload)
		if err != nil {
			if !errors.Is(err, ErrBadPex) {
				t.Fatalf("error %v is not ErrBadPex", err)
			}
			return
		}
		b, err := m.Encode()
		if err != nil {
			t.Fatalf("parsed %+v, which does not encode: %v", m, err)
		}
		if _, err := bencode.Parse(b); err != nil {
			t.Fatalf("encoding %q is not canonical: %v", b, err)
		}
		again, err := ParsePexMessage(b)
		if err != nil || fmt.Sprint(sortedPex(again)) != fmt.Sprint(sortedPex(m)) {
			t.Fatalf("%+v encodes as %q, which parses as %+v, %v", m, b, again, err)
		}
	})
}

// sortedPex orders a message's peers: Encode groups them by family.
func sortedPex(m PexMessage) PexMessage {
	slices.SortFunc(m.Added, func(a, b PexPeer) int { return a.Addr.Compare(b.Addr) })
	slices.SortFunc(m.Dropped, netip.AddrPort.Compare)
	return m
}
