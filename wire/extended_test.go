package wire

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/btfs/btfs/bencode"
)

func TestExtendedHandshakeRoundTrip(t *testing.T) {
	h := ExtendedHandshake{
		M:            map[string]int{"ut_metadata": 3, "ut_pex": 1, "lt_donthave": 0},
		Port:         6881,
		Version:      "btfs 0.1",
		ReqQ:         250,
		MetadataSize: 31337,
		YourIP:       []byte{127, 0, 0, 1},
	}
	b, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := "d1:md11:lt_donthavei0e11:ut_metadatai3e6:ut_pexi1ee13:metadata_sizei31337e1:pi6881e4:reqqi250e1:v8:btfs 0.16:yourip4:\x7f\x00\x00\x01e"
	if string(b) != want {
		t.Fatalf("encoded %q\nwant    %q", b, want)
	}
	got, err := ParseExtendedHandshake(b)
	if err != nil {
		t.Fatal(err)
	}
	if !sameExtended(got, h) {
		t.Fatalf("parsed %+v\nwant   %+v", got, h)
	}
	b[len(b)-2] = 9 // the parsed YourIP is a copy, not the payload
	if got.YourIP[3] != 1 {
		t.Fatalf("YourIP shares the payload")
	}

	empty, err := ExtendedHandshake{}.Encode()
	if err != nil || string(empty) != "d1:mdee" {
		t.Fatalf("empty handshake encoded as %q, %v; want d1:mdee", empty, err)
	}
}

// TestParseExtendedHandshakeLenient feeds handshakes as other clients send
// them, oddities included.
func TestParseExtendedHandshakeLenient(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     ExtendedHandshake
	}{
		{"libtorrent-like", "d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei5231e4:reqqi500e11:upload_onlyi1e1:v17:qBittorrent/4.6.56:yourip4:\x0a\x00\x00\x02e",
			ExtendedHandshake{M: map[string]int{"lt_donthave": 7, "share_mode": 8, "upload_only": 3, "ut_holepunch": 4, "ut_metadata": 2, "ut_pex": 1},
				MetadataSize: 5231, ReqQ: 500, Version: "qBittorrent/4.6.5", YourIP: []byte{10, 0, 0, 2}}},
		{"no m", "d1:pi6881ee", ExtendedHandshake{Port: 6881}},
		{"unsorted keys", "d1:v3:abc1:md1:bi2e1:ai1eee", ExtendedHandshake{M: map[string]int{"a": 1, "b": 2}, Version: "abc"}},
		{"trailing bytes", "d1:pi1eeXYZ", ExtendedHandshake{Port: 1}},
		{"m not a dict", "d1:mli1ee1:pi2ee", ExtendedHandshake{Port: 2}},
		{"bad extension ids", "d1:md1:ai-1e1:bi256e1:c1:x1:di255eee", ExtendedHandshake{M: map[string]int{"d": 255}}},
		{"wrong types", "d13:metadata_size2:101:p4:68814:reqqle1:vi5e6:yourip5:abcdee", ExtendedHandshake{}},
		{"out of range", "d13:metadata_sizei-5e1:pi65536e4:reqqi0e6:yourip3:abce", ExtendedHandshake{}},
		{"port 0", "d1:pi0ee", ExtendedHandshake{}},
		{"ipv6", "d6:yourip16:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01e", ExtendedHandshake{YourIP: []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}},
		{"huge ints", "d13:metadata_sizei9223372036854775807e4:reqqi4294967296ee", ExtendedHandshake{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseExtendedHandshake([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !sameExtended(got, tc.want) {
				t.Fatalf("parsed %+v\nwant   %+v", got, tc.want)
			}
		})
	}
}

func TestParseExtendedHandshakeRejects(t *testing.T) {
	var many strings.Builder
	many.WriteString("d1:md")
	for i := range MaxExtensions + 1 {
		fmt.Fprintf(&many, "4:x%03di1e", i)
	}
	many.WriteString("ee")
	for _, in := range []string{
		"", "de", "le", "i1e", "3:abc", "d1:pi1e", "d1:a1:b1:a1:be", "x",
		many.String(),
		"d1:v" + fmt.Sprint(MaxExtendedPayload) + ":" + strings.Repeat("x", MaxExtendedPayload) + "e",
	} {
		if in == "de" {
			// The one valid input here: an empty dictionary.
			if _, err := ParseExtendedHandshake([]byte(in)); err != nil {
				t.Errorf("de: %v", err)
			}
			continue
		}
		if _, err := ParseExtendedHandshake([]byte(in)); !errors.Is(err, ErrBadExtendedHandshake) {
			t.Errorf("%.40q: %v, want %v", in, err, ErrBadExtendedHandshake)
		}
	}
}

func TestEncodeExtendedHandshakeRefuses(t *testing.T) {
	tooMany := map[string]int{}
	for i := range MaxExtensions + 1 {
		tooMany[fmt.Sprint(i)] = 1
	}
	for i, h := range []ExtendedHandshake{
		{M: tooMany},
		{M: map[string]int{"a": 256}},
		{M: map[string]int{"a": -1}},
		{Port: 65536},
		{Port: -1},
		{ReqQ: -1},
		{MetadataSize: -1},
		{YourIP: []byte{1, 2, 3}},
		{Version: strings.Repeat("v", MaxExtendedPayload)},
	} {
		if b, err := h.Encode(); !errors.Is(err, ErrBadExtendedHandshake) {
			t.Errorf("case %d: encoded %.40q, %v; want %v", i, b, err, ErrBadExtendedHandshake)
		}
	}
}

// sameExtended compares handshakes, with nil and empty maps and slices
// equal.
func sameExtended(a, b ExtendedHandshake) bool {
	return maps.Equal(a.M, b.M) && a.Port == b.Port && a.Version == b.Version && a.ReqQ == b.ReqQ &&
		a.MetadataSize == b.MetadataSize && bytes.Equal(a.YourIP, b.YourIP)
}

// Encode must write canonical bencoding (other clients may parse strictly).
func TestEncodeIsCanonical(t *testing.T) {
	b, err := ExtendedHandshake{M: map[string]int{"z": 1, "a": 2}, Version: "v"}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bencode.Parse(b); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
}
