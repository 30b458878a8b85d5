package watchdir

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds any bytes to the reading of both kinds of file: an error or
// a torrent, never a panic, and an Add always has its info-hash.
func FuzzLoad(f *testing.F) {
	data, _ := torrent(f, "seed")
	f.Add(data)
	link, _ := magnetLink("seed")
	f.Add([]byte(" " + link + "\n"))
	f.Add([]byte(link + "\n" + link))
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"f.torrent", "f.magnet"} {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			l, _, err := load(path)
			if err == nil && ((l.torrent == nil) == (l.magnet == nil) || l.hash.IsZero()) {
				t.Fatalf("%s: loaded %+v without an error", name, l)
			}
		}
	})
}
