package metainfo

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestCreateRefusesBadPieceLength: a piece length that is not a power of
// two from 16 KiB to 64 MiB is refused before any hashing, and every one
// Create accepts loads from Parse without a warning.
func TestCreateRefusesBadPieceLength(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]int{"data": 100000})
	src := filepath.Join(dir, "data")
	for _, pl := range []int64{1, 3, 1000, 8 << 10, 16<<10 + 1, 24 << 10, 3 << 20, 128 << 20, MaxPieceLength} {
		_, err := Create(context.Background(), src, CreateOptions{PieceLength: pl})
		if !errors.Is(err, ErrBadPieceLength) || !strings.Contains(err.Error(), "choose") {
			t.Errorf("piece length %d: %v, want ErrBadPieceLength saying what to choose", pl, err)
		}
	}
	for _, pl := range []int64{16 << 10, 32 << 10, 1 << 20, 64 << 20} {
		mi, err := Create(context.Background(), src, CreateOptions{PieceLength: pl})
		if err != nil {
			t.Errorf("piece length %d: %v", pl, err)
			continue
		}
		if w := mi.Info.Warnings(); len(w) != 0 {
			t.Errorf("piece length %d: Create wrote a torrent Parse warns about: %q", pl, w)
		}
	}
}

// TestCreateRefusesBadName: a name that is not one plain path component is
// refused; every name Create accepts comes back from Parse unchanged.
func TestCreateRefusesBadName(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]int{"data": 1000})
	src := filepath.Join(dir, "data")
	bad := []string{
		"../../evil", "..", ".", "a/b", "/etc", `a\b`, "nul\x00byte", "tab\there", "del\x7f",
		"bad\xffutf8", "ltr\u202emp3.exe", strings.Repeat("x", MaxElementLength+1),
	}
	for _, name := range bad {
		_, err := Create(context.Background(), src, CreateOptions{Name: name})
		if !errors.Is(err, ErrBadName) || !strings.Contains(err.Error(), "plain file name") {
			t.Errorf("name %q: %v, want ErrBadName", name, err)
		}
	}
	for _, name := range []string{"movie.mkv", "...", "..x", "日本語", "a b", strings.Repeat("y", MaxElementLength)} {
		mi, err := Create(context.Background(), src, CreateOptions{Name: name})
		if err != nil {
			t.Errorf("name %q: %v", name, err)
			continue
		}
		if mi.Info.Name != name {
			t.Errorf("name %q came back from Parse as %q", name, mi.Info.Name)
		}
	}
}

// FuzzCheckName: whatever CheckName accepts, Parse keeps as it is.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"a", "..", "a/b", "\x00", "x\u202e", "...", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if CheckName(name) != nil {
			return
		}
		if clean, ok := sanitizeElement(name); !ok || clean != name || strings.ContainsAny(name, "/\x00") {
			t.Fatalf("CheckName accepted %q, which Parse turns into %q (kept: %v)", name, clean, ok)
		}
	})
}
