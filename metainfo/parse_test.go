package metainfo

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// torrent builds a .torrent from an info dictionary body (the part between
// "d" and "e", keys in order) and a top-level prefix.
func torrent(top, info string) []byte {
	return []byte("d" + top + "4:infod" + info + "ee")
}

func pieces(n int) string {
	return fmt.Sprintf("6:pieces%d:%s", n*20, strings.Repeat("x", n*20))
}

func TestParseMalformed(t *testing.T) {
	good := "6:lengthi100e4:name1:a12:piece lengthi16384e" + pieces(1)
	if _, err := Parse(torrent("", good)); err != nil {
		t.Fatalf("the baseline torrent does not parse: %v", err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty file", []byte(""), "unexpected end"},
		{"truncated", torrent("", good)[:40], "bencode"},
		{"not a dictionary", []byte("li1ee"), "top level is a list"},
		{"no info", []byte("d8:announce3:urle"), "info dictionary is missing"},
		{"info is a list", []byte("d4:infoli1eee"), "info dictionary is missing"},
		{"huge declared string", []byte("d4:info1099511627776:xe"), "past the end"},
		{"piece length missing", torrent("", "6:lengthi100e4:name1:a"+pieces(1)), "piece length is missing"},
		{"piece length zero", torrent("", "6:lengthi100e4:name1:a12:piece lengthi0e"+pieces(1)), "must be positive"},
		{"piece length huge", torrent("", "6:lengthi100e4:name1:a12:piece lengthi1099511627776e"+pieces(1)), "more than the limit"},
		{"piece length string", torrent("", "6:lengthi100e4:name1:a12:piece length2:16"+pieces(1)), "piece length is missing or not an integer"},
		{"pieces not multiple of 20", torrent("", "6:lengthi100e4:name1:a12:piece lengthi16384e6:pieces3:abc"), "not a multiple of 20"},
		{"too few pieces", torrent("", "6:lengthi100000e4:name1:a12:piece lengthi16384e"+pieces(1)), "holds 1 hashes"},
		{"too many pieces", torrent("", "6:lengthi100e4:name1:a12:piece lengthi16384e"+pieces(2)), "holds 2 hashes"},
		{"negative length", torrent("", "6:lengthi-1e4:name1:a12:piece lengthi16384e"+pieces(1)), "negative"},
		{"absurd length", torrent("", "6:lengthi9223372036854775807e4:name1:a12:piece lengthi16384e"+pieces(1)), "more than the limit"},
		{"length is a string", torrent("", "6:length3:1004:name1:a12:piece lengthi16384e"+pieces(1)), "length is a string"},
		{"no length, no files", torrent("", "4:name1:a12:piece lengthi16384e"+pieces(1)), "info.length is missing"},
		{"name missing", torrent("", "6:lengthi100e12:piece lengthi16384e"+pieces(1)), "name is missing"},
		{"name empty", torrent("", "6:lengthi100e4:name0:12:piece lengthi16384e"+pieces(1)), "name is empty"},
		{"files not a list", torrent("", "5:filesi1e4:name1:a12:piece lengthi16384e"+pieces(1)), "files is a integer"},
		{"file not a dict", torrent("", "5:filesli1ee4:name1:a12:piece lengthi16384e"+pieces(1)), "files[0] is a integer"},
		{"file path empty", torrent("", "5:filesld6:lengthi100e4:pathleee4:name1:a12:piece lengthi16384e"+pieces(1)), "path is missing or empty"},
		{"file path element int", torrent("", "5:filesld6:lengthi100e4:pathli1eeee4:name1:a12:piece lengthi16384e"+pieces(1)), "path[0] is a integer"},
		{"file path a string", torrent("", "5:filesld6:lengthi100e4:path1:aee4:name1:a12:piece lengthi16384e"+pieces(1)), "path is a string"},
		{"total overflow", torrent("", "5:filesld6:lengthi1125899906842624e4:pathl1:aeed6:lengthi1e4:pathl1:beee4:name1:a12:piece lengthi16384e"+pieces(1)), "total length is more than the limit"},
		{"duplicate key", []byte("d4:infod4:name1:a4:name1:bee"), "duplicate dictionary key"},
		{"deep nesting", []byte("d4:info" + strings.Repeat("l", 200) + strings.Repeat("e", 200) + "e"), "nested deeper"},
		{"too deep path", torrent("", "5:filesld6:lengthi100e4:pathl"+strings.Repeat("1:a", MaxPathDepth+1)+"eee4:name1:a12:piece lengthi16384e"+pieces(1)), "directories deep"},
		{"oversized file", make([]byte, MaxTorrentSize+1), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mi, err := Parse(tt.data)
			if err == nil {
				t.Fatalf("parsed: %+v", mi.Info)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want an invalid-torrent error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParseCleansTraversal(t *testing.T) {
	info := "5:filesld6:lengthi10e4:pathl2:..2:..6:passwdeed6:lengthi10e4:pathl5:/etc/6:shadoweee" +
		"4:name2:..12:piece lengthi16384e" + pieces(1)
	mi, err := Parse(torrent("", info))
	if err != nil {
		t.Fatal(err)
	}
	got := []string{mi.Info.DisplayPath(&mi.Info.Files[0]), mi.Info.DisplayPath(&mi.Info.Files[1])}
	want := mi.InfoHash.String()
	if got[0] != want+"/passwd" || got[1] != want+"/etc/shadow" {
		t.Fatalf("paths %q", got)
	}
}

func TestParseFields(t *testing.T) {
	top := "8:announce13:http://a/ann 13:announce-listll8:http://bel9:udp://c:18:http://bee" +
		"7:comment5:hello10:created by4:test13:creation datei1700000000e"
	info := "6:lengthi100e4:name5:x.bin12:piece lengthi16384e" + pieces(1) + "7:privatei1e"
	mi, err := Parse([]byte("d" + top + "4:infod" + info + "e8:url-list12:http://seed/e"))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(mi.Trackers) != "[[http://b] [udp://c:1]]" {
		t.Errorf("trackers %q (announce-list wins, duplicates dropped)", mi.Trackers)
	}
	if !mi.Info.Private || mi.Comment != "hello" || mi.CreatedBy != "test" || mi.CreationDate.Unix() != 1700000000 {
		t.Errorf("fields %+v", mi)
	}
	if len(mi.WebSeeds) != 1 || mi.WebSeeds[0] != "http://seed/" {
		t.Errorf("web seeds %q", mi.WebSeeds)
	}
	if mi.Info.MultiFile || mi.Info.Files[0].Path[0] != "x.bin" {
		t.Errorf("single file %+v", mi.Info.Files)
	}
	// Encode keeps the info dictionary byte for byte.
	data, err := mi.Encode()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(data)
	if err != nil || again.InfoHash != mi.InfoHash || fmt.Sprint(again.Trackers) != fmt.Sprint(mi.Trackers) {
		t.Fatalf("re-encoded torrent: %v, %+v", err, again)
	}
}

func TestParseInfo(t *testing.T) {
	mi, err := Parse(torrent("", "6:lengthi100e4:name1:a12:piece lengthi16384e"+pieces(1)))
	if err != nil {
		t.Fatal(err)
	}
	info, err := ParseInfo(mi.InfoBytes, mi.InfoHash)
	if err != nil || info.Length != 100 {
		t.Fatalf("ParseInfo: %v, %+v", err, info)
	}
	if _, err := ParseInfo(mi.InfoBytes, Hash{1}); err == nil {
		t.Fatal("ParseInfo accepted an info dictionary with another hash")
	}
}

func TestParseHash(t *testing.T) {
	hex := "b61560c2918f463768cd122b6d2fdd47b77bdb35"
	h, err := ParseHash(strings.ToUpper(hex))
	if err != nil || h.String() != hex {
		t.Fatalf("hex: %v %s", err, h)
	}
	b32, err := ParseHash("WYKWBQURR5DDO2GNCIVW2L65I63XXWZV")
	if err != nil || b32 != h {
		t.Fatalf("base32: %v %s", err, b32)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("z", 40), strings.Repeat("1", 32)} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) accepted", bad)
		}
	}
}

func TestWarnings(t *testing.T) {
	if w := (&Info{PieceLength: 1 << 18}).Warnings(); len(w) != 0 {
		t.Errorf("256 KiB: %q", w)
	}
	if w := (&Info{PieceLength: 1000}).Warnings(); len(w) != 2 {
		t.Errorf("1000 bytes: %q", w)
	}
}
