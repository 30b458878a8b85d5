package magnet

import (
	"crypto/sha1"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/btfs/btfs/metainfo"
)

const (
	hexHash = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
	b32Hash = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK" // the same hash in base32
)

var hash = metainfo.Hash{0xc1, 0x2f, 0xe1, 0xc0, 0x6b, 0xba, 0x25, 0x4a, 0x9d, 0xc9, 0xf5, 0x19, 0xb3, 0x35, 0xaa, 0x7c, 0x13, 0x67, 0xa8, 0x8a}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, uri string
		want      Link
	}{
		{"hash only", "magnet:?xt=urn:btih:" + hexHash, Link{InfoHash: hash}},
		{"upper-case hex, scheme and names", "MAGNET:?XT=URN:BTIH:" + strings.ToUpper(hexHash), Link{InfoHash: hash}},
		{"base32", "magnet:?xt=urn:btih:" + b32Hash, Link{InfoHash: hash}},
		{"base32 lower case", "magnet:?xt=urn:btih:" + strings.ToLower(b32Hash), Link{InfoHash: hash}},
		{"everything", "magnet:?xt=urn:btih:" + hexHash + "&dn=Big+Buck%20Bunny&tr=udp%3A%2F%2Ftracker.example%3A1337&tr=http://b.example/announce" +
			"&x.pe=10.0.0.1:6881&x.pe=%5B2001:DB8::1%5D:51413&x.pe=Peer.Example:80&ws=https%3A%2F%2Fseed.example%2Fbbb.mp4&xl=123&so=0-2",
			Link{InfoHash: hash, Name: "Big Buck Bunny",
				Trackers: [][]string{{"udp://tracker.example:1337"}, {"http://b.example/announce"}},
				Peers:    []string{"10.0.0.1:6881", "[2001:db8::1]:51413", "peer.example:80"},
				WebSeeds: []string{"https://seed.example/bbb.mp4"}}},
		{"parameters in any order, empty ones skipped", "magnet:?&tr=http://a/&&dn=x&xt=urn:btih:" + hexHash + "&",
			Link{InfoHash: hash, Name: "x", Trackers: [][]string{{"http://a/"}}}},
		{"numbered trackers share tiers by number", "magnet:?xt=urn:btih:" + hexHash + "&tr.1=http://a/&tr=http://x/&tr.2=http://b/&tr.1=http://c/",
			Link{InfoHash: hash, Trackers: [][]string{{"http://a/", "http://c/"}, {"http://x/"}, {"http://b/"}}}},
		{"trackers trimmed, empty and repeated ones dropped", "magnet:?xt=urn:btih:" + hexHash + "&tr=+http://a/+&tr=&tr=http://a/&tr.3=http://a/",
			Link{InfoHash: hash, Trackers: [][]string{{"http://a/"}}}},
		{"first dn wins", "magnet:?xt=urn:btih:" + hexHash + "&dn=one&dn=two", Link{InfoHash: hash, Name: "one"}},
		{"same hash twice, numbered", "magnet:?xt.1=urn:btih:" + hexHash + "&xt.2=urn:btih:" + b32Hash, Link{InfoHash: hash}},
		{"hybrid v1+v2 loads the v1 hash", "magnet:?xt=urn:btmh:1220" + strings.Repeat("ab", 32) + "&xt=urn:btih:" + hexHash, Link{InfoHash: hash}},
		{"other networks' topics ignored", "magnet:?xt=urn:ed2k:31d6cfe0d16ae931b73c59d7e0c089c0&xt=urn:btih:" + hexHash, Link{InfoHash: hash}},
		{"peers canonical and unique", "magnet:?xt=urn:btih:" + hexHash + "&x.pe=[::ffff:1.2.3.4]:01&x.pe=[1.2.3.4]:6881&x.pe=1.2.3.4:6881&x.pe=",
			Link{InfoHash: hash, Peers: []string{"[::ffff:1.2.3.4]:1", "1.2.3.4:6881"}}},
		{"web seeds: http(s) only, unique", "magnet:?xt=urn:btih:" + hexHash + "&ws=ftp://x/f&ws=http://s/f&ws=http://s/f&ws=/rel&ws=http://",
			Link{InfoHash: hash, WebSeeds: []string{"http://s/f"}}},
		{"= inside a value", "magnet:?xt=urn:btih:" + hexHash + "&tr=http://t/announce?k=v%26w", Link{InfoHash: hash, Trackers: [][]string{{"http://t/announce?k=v&w"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.uri)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %#v\nwant %#v", got, tc.want)
			}
			again, err := Parse(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("%s parses back as %#v, %v", got, again, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, uri, want string }{
		{"not a magnet", "http://example.com/x.torrent", "does not start with \"magnet:?\""},
		{"empty", "", "does not start"},
		{"no query", "magnet:xt=urn:btih:" + hexHash, "does not start"},
		{"no xt", "magnet:?dn=x&tr=http://a/", "no info-hash"},
		{"xt of another network only", "magnet:?xt=urn:sha1:YNCKHTQCWBTRNJIV4WNAE52SJUQCZO5C", "no info-hash"},
		{"short hex", "magnet:?xt=urn:btih:" + hexHash[:39], "40 hex or 32 base32"},
		{"bad hex", "magnet:?xt=urn:btih:" + strings.Repeat("g", 40), "40 hex or 32 base32"},
		{"bad base32", "magnet:?xt=urn:btih:" + strings.Repeat("1", 32), "40 hex or 32 base32"},
		{"empty hash", "magnet:?xt=urn:btih:", "40 hex or 32 base32"},
		{"two hashes", "magnet:?xt=urn:btih:" + hexHash + "&xt=urn:btih:" + strings.Repeat("0", 40), "two info-hashes"},
		{"v2 only", "magnet:?xt=urn:btmh:1220" + strings.Repeat("ab", 32) + "&dn=x", "BitTorrent v2 info-hash"},
		{"bad escape in a value", "magnet:?xt=urn:btih:" + hexHash + "&dn=100%", "bad escape in dn=100%"},
		{"bad escape in a name", "magnet:?xt=urn:btih:" + hexHash + "&d%zz=1", "bad escape in parameter name"},
		{"bad escape in the hash", "magnet:?xt=urn:btih:%g1", "bad escape in xt="},
		{"too long", "magnet:?xt=urn:btih:" + hexHash + "&dn=" + strings.Repeat("x", MaxLength), "more than the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse(tc.uri)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %#v, %v; want an ErrInvalid saying %q", l, err, tc.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	l := Link{InfoHash: hash, Name: "a b&c=d/é",
		Trackers: [][]string{{"http://a/announce"}, {"udp://b:1", "udp://c:2"}, {"http://d/?x=1&y=2"}},
		Peers:    []string{"1.2.3.4:5", "[::1]:6"}, WebSeeds: []string{"http://s/f"}}
	want := "magnet:?xt=urn:btih:" + hexHash + "&dn=a+b%26c%3Dd%2F%C3%A9&tr=http%3A%2F%2Fa%2Fannounce" +
		"&tr.2=udp%3A%2F%2Fb%3A1&tr.2=udp%3A%2F%2Fc%3A2&tr=http%3A%2F%2Fd%2F%3Fx%3D1%26y%3D2&x.pe=1.2.3.4%3A5&x.pe=%5B%3A%3A1%5D%3A6&ws=http%3A%2F%2Fs%2Ff"
	if got := l.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	again, err := Parse(want)
	if err != nil || !reflect.DeepEqual(again, l) {
		t.Fatalf("parses back as %#v, %v", again, err)
	}
	if got, want := l.PeerAddrs(), []netip.AddrPort{netip.MustParseAddrPort("1.2.3.4:5"), netip.MustParseAddrPort("[::1]:6")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("PeerAddrs %v, want %v", got, want)
	}
}

func TestLinkMetaInfo(t *testing.T) {
	info := []byte("d6:lengthi100e4:name5:movie12:piece lengthi16384e6:pieces20:" + strings.Repeat("x", 20) + "e")
	l := Link{InfoHash: sha1.Sum(info), Name: "ignored", Trackers: [][]string{{"http://t/announce"}}, WebSeeds: []string{"http://s/movie"}}
	mi, err := l.MetaInfo(info)
	if err != nil {
		t.Fatal(err)
	}
	if mi.Info.Name != "movie" || mi.InfoHash != l.InfoHash || !reflect.DeepEqual(mi.Trackers, l.Trackers) || !reflect.DeepEqual(mi.WebSeeds, l.WebSeeds) {
		t.Fatalf("got %+v", mi)
	}
	l.InfoHash[0] ^= 1
	if _, err := l.MetaInfo(info); !errors.Is(err, metainfo.ErrInvalid) {
		t.Fatalf("info of another torrent: %v, want metainfo.ErrInvalid", err)
	}
}

// FuzzParse parses arbitrary links: nothing may panic, every error wraps
// ErrInvalid, and a link parsed must write itself (String) as a link that
// parses to the same Link, and writes the same again.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"magnet:?xt=urn:btih:" + hexHash,
		"magnet:?xt=urn:btih:" + b32Hash + "&dn=x+y%20z&tr=http://a/&tr.1=udp://b:1&tr.1=udp://c:2&x.pe=1.2.3.4:5&x.pe=[::1]:6&x.pe=h.example:7&ws=http://s/f",
		"magnet:?xt=urn:btmh:1220" + strings.Repeat("ab", 32),
		"magnet:?xt=urn:btih:" + hexHash + "&x.pe=[fe80::1%25eth0]:80&tr=%20&dn=%ff",
		"magnet:?dn=100%", "MAGNET:?XT=URN:BTIH:" + hexHash + "&TR.2=x&tr.2=y",
		"magnet:?xt=urn:btih:" + hexHash + "&x.pe=1.2.3.4&x.pe=5.6.7.8:9&x.pe=[host]:80&x.pe=a_b:1&x.pe=h:0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		l, err := Parse(uri)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if len(l.Warnings) > MaxWarnings {
			t.Fatalf("%d warnings, more than %d", len(l.Warnings), MaxWarnings)
		}
		for _, w := range l.Warnings {
			if !strings.HasPrefix(w, "x.pe=") && !strings.HasPrefix(w, "and ") {
				t.Fatalf("warning %q names no x.pe", w)
			}
		}
		l.Warnings = nil // String leaves them out: what it writes is the usable part
		s := l.String()
		again, err := Parse(s)
		if err != nil {
			t.Fatalf("%#v writes %q, which does not parse: %v", l, s, err)
		}
		if !reflect.DeepEqual(again, l) {
			t.Fatalf("%#v writes %q, which parses as %#v", l, s, again)
		}
		if s2 := again.String(); s2 != s {
			t.Fatalf("%q writes %q the second time", s, s2)
		}
	})
}
