package metainfo

import (
	"crypto/sha1"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestFromInfo checks that a torrent made of an info dictionary and a magnet
// link's trackers and web seeds is the one Parse reads from the same .torrent
// file, and that Encode writes that file.
func TestFromInfo(t *testing.T) {
	info := "5:filesld6:lengthi10e4:pathl1:aeed6:lengthi20e4:pathl1:beee4:name3:dir12:piece lengthi16384e" + pieces(1)
	infoBytes := []byte("d" + info + "e")
	hash := Hash(sha1.Sum(infoBytes))
	trackers := [][]string{{"http://a/announce", " http://b/announce "}, {}, {"udp://c:1", "http://a/announce"}}
	seeds := []string{"http://seed/x", "ftp://no", "http://seed/x/"}
	mi, err := FromInfo(infoBytes, hash, trackers, seeds)
	if err != nil {
		t.Fatal(err)
	}
	top := "13:announce-listll17:http://a/announce19: http://b/announce el9:udp://c:117:http://a/announceee"
	want, err := Parse([]byte("d" + top + "4:infod" + info + "e8:url-listl13:http://seed/x8:ftp://no14:http://seed/x/ee"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mi, want) {
		t.Fatalf("FromInfo gave  %+v\nParse gives   %+v", mi, want)
	}
	if got := [][]string{{"http://a/announce", "http://b/announce"}, {"udp://c:1"}}; !reflect.DeepEqual(mi.Trackers, got) {
		t.Errorf("trackers %q, want %q", mi.Trackers, got)
	}
	if got := []string{"http://seed/x/"}; !reflect.DeepEqual(mi.WebSeeds, got) {
		t.Errorf("web seeds %q, want %q", mi.WebSeeds, got)
	}
	file, err := mi.Encode()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(file)
	if err != nil || again.InfoHash != hash || !reflect.DeepEqual(again.Trackers, mi.Trackers) || !reflect.DeepEqual(again.WebSeeds, mi.WebSeeds) {
		t.Fatalf("the encoded torrent parses as %+v, %v", again, err)
	}

	bare, err := FromInfo(infoBytes, hash, nil, nil)
	if err != nil || bare.Trackers != nil || bare.WebSeeds != nil || bare.Info.Name != "dir" {
		t.Fatalf("without trackers: %+v, %v", bare, err)
	}
}

func TestFromInfoRefuses(t *testing.T) {
	good := []byte("d6:lengthi100e4:name1:a12:piece lengthi16384e" + pieces(1) + "e")
	for _, tc := range []struct {
		name string
		info []byte
		hash Hash
		want string
	}{
		{"wrong hash", good, Hash{1}, "hashes to"},
		{"not bencode", []byte("d4:name"), Hash(sha1.Sum([]byte("d4:name"))), "bencode"},
		{"invalid info", []byte("d4:name1:ae"), Hash(sha1.Sum([]byte("d4:name1:ae"))), "piece length is missing"},
	} {
		_, err := FromInfo(tc.info, tc.hash, nil, nil)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an invalid-torrent error mentioning %q", tc.name, err, tc.want)
		}
	}
}
