package watchdir

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/btfs/btfs/metainfo"
)

// libraryFiles is the size of library btfs is built to handle.
const libraryFiles = 1000

// writeLibrary fills dir with n small torrents and returns their names in
// name order.
func writeLibrary(t testing.TB, dir string, n int) []string {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("t%04d.torrent", i)
		data, _ := torrent(t, names[i])
		write(t, filepath.Join(dir, names[i]), data)
	}
	return names
}

// Every one of 1,000 files present at start is reported, in name order,
// before Ready.
func TestThousandFilesAtStart(t *testing.T) {
	dir := t.TempDir()
	names := writeLibrary(t, dir, libraryFiles)
	r := start(t, dir, fast)
	seen := map[metainfo.Hash]bool{}
	for _, name := range names {
		e := r.expect(Add, name, metainfo.Hash{})
		seen[e.InfoHash()] = true
	}
	r.expect(Ready, "", metainfo.Hash{})
	if len(seen) != libraryFiles {
		t.Fatalf("%d distinct info-hashes, want %d", len(seen), libraryFiles)
	}
}

// BenchmarkInitialScan times the scan of a directory of 1,000 small torrents:
// from Run until Ready, every file read and parsed.
func BenchmarkInitialScan(b *testing.B) {
	dir := b.TempDir()
	writeLibrary(b, dir, libraryFiles)
	w, err := New(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		adds := 0
		err := w.Run(ctx, func(e Event) {
			switch e.Op {
			case Add:
				adds++
			case Ready:
				cancel()
			}
		})
		cancel()
		if err != nil || adds != libraryFiles {
			b.Fatalf("Run: %v after %d adds, want %d", err, adds, libraryFiles)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/libraryFiles, "µs/file")
}
