package fs

import (
	"strings"
	"testing"

	"github.com/btfs/btfs/metainfo"
)

func TestFreeName(t *testing.T) {
	const key = "ab12cd34ef56ab78cd90ab12cd34ef56ab78cd90"
	long := strings.Repeat("é", 127) + ".mkv" // 258 bytes: cut, keeping the extension
	tests := []struct {
		name   string
		isFile bool
		taken  []string
		want   string
	}{
		{"album", false, nil, "album"},
		{"album", false, []string{"album"}, "album [ab12cd34]"},
		{"movie.mkv", true, []string{"movie.mkv"}, "movie [ab12cd34].mkv"},
		{"v1.0", false, []string{"v1.0"}, "v1.0 [ab12cd34]"}, // a directory keeps its name whole
		{".hidden", true, []string{".hidden"}, ".hidden [ab12cd34]"},
		{"album", false, []string{"album", "album [ab12cd34]"}, "album [ab12cd34ef56ab78]"},
		{"album", false, []string{"album", "album [ab12cd34]", "album [ab12cd34ef56ab78]"}, "album [" + key + "]"},
	}
	for _, tt := range tests {
		got, err := freeName(tt.name, key, tt.isFile, func(n string) bool {
			for _, x := range tt.taken {
				if x == n {
					return true
				}
			}
			return false
		})
		if err != nil || got != tt.want {
			t.Errorf("freeName(%q) with %q taken = %q, %v; want %q", tt.name, tt.taken, got, err, tt.want)
		}
	}
	got, err := freeName(long, key, true, func(n string) bool { return n == long })
	if err != nil || len(got) > metainfo.MaxElementLength || !strings.HasSuffix(got, " [ab12cd34].mkv") {
		t.Errorf("a long name tagged: %q (%d bytes), %v", got, len(got), err)
	}
	if _, err := freeName("x", key, false, func(string) bool { return true }); err == nil {
		t.Error("no free name, and no error")
	}
}

// A key's inode base is the same in any library, unless another torrent
// shown holds it, and never 0 (the root's).
func TestInoBase(t *testing.T) {
	taken := map[uint64]bool{}
	a := inoBase("k1", taken)
	if a == 0 || a >= 1<<inoBaseBits || inoBase("k1", map[uint64]bool{}) != a {
		t.Fatalf("base %d: not stable or out of range", a)
	}
	taken[a] = true
	if b := inoBase("k1", taken); b == a || b == 0 {
		t.Fatalf("a taken base given again: %d", b)
	}
	e := &entry{base: a}
	if e.ino(0) >= 1<<63 || e.ino(1<<inoIndexBits) != 0 {
		t.Fatalf("inode numbers %d, %d", e.ino(0), e.ino(1<<inoIndexBits))
	}
}
