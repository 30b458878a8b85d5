package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCreateRefusesUnsafeInput: piece lengths that are not a power of two
// from 16 KiB to 64 MiB and names that are not one plain file name are usage
// errors, and nothing is written (not even outside the working directory).
func TestCreateRefusesUnsafeInput(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a", "b", "data")
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, []byte(strings.Repeat("x", 40000)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(dir, "a", "b"))
	tests := []struct {
		args     []string
		inStderr string
	}{
		{[]string{"-l", "3"}, "power of two"},
		{[]string{"-l", "24KiB"}, "power of two"},
		{[]string{"-l", "8KiB"}, "16 KiB"},
		{[]string{"-l", "128MiB"}, "16 KiB"},
		{[]string{"-n", "../../evil"}, "path separator"},
		{[]string{"-n", ".."}, "--name"},
		{[]string{"-n", "a\x00b"}, "control character"},
	}
	for _, tt := range tests {
		args := append(append([]string{"create", "--no-date"}, tt.args...), "data")
		code, _, stderr := btfs(t, args...)
		if code != exitUsage || !strings.Contains(stderr, tt.inStderr) {
			t.Errorf("btfs %q: exit %d, stderr %q; want exit %d mentioning %q", args, code, stderr, exitUsage, tt.inStderr)
		}
	}
	found, err := filepath.Glob(filepath.Join(dir, "*.torrent"))
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join(dir, "a", "b", "*.torrent"))
	if len(found)+len(more) != 0 {
		t.Errorf("refused creates wrote %q", append(found, more...))
	}
	if code, _, stderr := btfs(t, "create", "--no-date", "-l", "16KiB", "-n", "fine.bin", "data"); code != exitOK {
		t.Fatalf("a sound create: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat("fine.bin.torrent"); err != nil {
		t.Errorf("sound create: %v", err)
	}
}
