package metainfo

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input panics and that every accepted torrent keeps
// the layout invariants (contiguous offsets, safe paths, matching pieces).
func FuzzParse(f *testing.F) {
	names, _ := filepath.Glob("testdata/libtorrent/*.torrent")
	for _, n := range names {
		if data, err := os.ReadFile(n); err == nil && len(data) < 8<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mi, err := Parse(data)
		if err != nil {
			return
		}
		checkLayout(t, &mi.Info)
		for i := range mi.Info.Files {
			_ = mi.Info.DisplayPath(&mi.Info.Files[i])
		}
	})
}
