package metainfo

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTree(t testing.TB, root string, files map[string]int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	for name, size := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCreateDirectory(t *testing.T) {
	root := filepath.Join(t.TempDir(), "content")
	writeTree(t, root, map[string]int{
		"b.bin": 40000, "a/z.txt": 1000, "a/empty": 0, "a-b/x": 33333, "ünï/日本.txt": 70000,
	})
	opts := CreateOptions{PieceLength: 16384, Trackers: [][]string{{"http://127.0.0.1:1/announce"}}, Comment: "c", Workers: 3}
	mi, err := Create(context.Background(), root, opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var all []byte
	for _, f := range mi.Info.Files {
		got = append(got, strings.Join(f.Path, "/"))
		data, err := os.ReadFile(filepath.Join(root, filepath.Join(f.Path...)))
		if err != nil || int64(len(data)) != f.Length {
			t.Fatalf("%q: %v, %d bytes, torrent says %d", f.Path, err, len(data), f.Length)
		}
		all = append(all, data...)
	}
	// Relative paths compared as strings: "a-b/x" sorts before "a/..." ('-' < '/').
	want := []string{"a-b/x", "a/empty", "a/z.txt", "b.bin", "ünï/日本.txt"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("order %q, want %q", got, want)
	}
	if mi.Info.Name != "content" || !mi.Info.MultiFile || mi.Info.Length != int64(len(all)) {
		t.Fatalf("info %q multi=%v length=%d", mi.Info.Name, mi.Info.MultiFile, mi.Info.Length)
	}
	for i := range mi.Info.NumPieces() {
		off := mi.Info.PieceOffset(i)
		if sha1.Sum(all[off:off+mi.Info.PieceSize(i)]) != mi.Info.PieceHash(i) {
			t.Fatalf("piece %d hash mismatch", i)
		}
	}
	again, err := Create(context.Background(), root, CreateOptions{PieceLength: 16384, Trackers: opts.Trackers, Comment: "c", Workers: 1})
	if err != nil || again.InfoHash != mi.InfoHash {
		t.Fatalf("not deterministic: %v %s %s", err, again.InfoHash, mi.InfoHash)
	}
}

func TestCreateSingleFile(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]int{"movie.mkv": 100000})
	mi, err := Create(context.Background(), filepath.Join(dir, "movie.mkv"), CreateOptions{Private: true})
	if err != nil {
		t.Fatal(err)
	}
	if mi.Info.MultiFile || mi.Info.Name != "movie.mkv" || !mi.Info.Private || mi.Info.PieceLength != 16384 {
		t.Fatalf("info %+v", mi.Info)
	}
	data, err := mi.Encode()
	if err != nil || !bytes.Contains(data, []byte("7:privatei1e")) {
		t.Fatalf("encoded: %v", err)
	}
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(context.Background(), filepath.Join(dir, "missing"), CreateOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: %v", err)
	}
	if _, err := Create(context.Background(), dir, CreateOptions{}); err == nil || !strings.Contains(err.Error(), "no files") {
		t.Errorf("empty directory: %v", err)
	}
	writeTree(t, dir, map[string]int{"zero": 0})
	if _, err := Create(context.Background(), dir, CreateOptions{}); err == nil || !strings.Contains(err.Error(), "nothing to share") {
		t.Errorf("only empty files: %v", err)
	}
	writeTree(t, dir, map[string]int{"data": 1 << 20})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Create(ctx, dir, CreateOptions{PieceLength: 16384}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestAutoPieceLength(t *testing.T) {
	tests := map[int64]int64{
		1: 16 << 10, 16 << 20: 16 << 10, 100 << 20: 64 << 10, 1 << 30: 1 << 20,
		4 << 30: 4 << 20, 1 << 40: 16 << 20,
	}
	for total, want := range tests {
		if got := AutoPieceLength(total); got != want {
			t.Errorf("AutoPieceLength(%d) = %d, want %d", total, got, want)
		}
	}
}

// BenchmarkCreate measures hashing throughput over a file in the page cache.
func BenchmarkCreate(b *testing.B) {
	dir := b.TempDir()
	const size = 256 << 20
	writeTree(b, dir, map[string]int{"data": size})
	b.SetBytes(size)
	for b.Loop() {
		if _, err := Create(context.Background(), filepath.Join(dir, "data"), CreateOptions{PieceLength: 1 << 20}); err != nil {
			b.Fatal(err)
		}
	}
}

// A file that shrinks after it was listed must give an error, not a crash:
// reading past the end of a mapping faults.
func TestCreateFileShrank(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	src := newPieceSource([]sourceFile{{abs: p, path: []string{"f"}, length: 1 << 16}}, 1<<16)
	defer src.closeAll()
	var buf []byte
	if _, err := src.hash(0, 1<<16, &buf); err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("hash of a shrunken file: %v", err)
	}
}
