package metainfo

import (
	"strings"
	"testing"
)

func TestSanitizeElement(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct {
		in   string
		want string
		keep bool
	}{
		{"file.txt", "file.txt", true},
		{".", "", false},
		{"..", "", false},
		{"", "_", true},
		{"/", "_", true},
		{"a/b", "ab", true},
		{"a\\b", "ab", true},
		{"/..", "", false},
		{"nul\x00byte", "nul_byte", true},
		{"tab\there", "tab_here", true},
		{"bad\xffutf8", "bad_utf8", true},
		{"évian ünïcode 日本", "évian ünïcode 日本", true},
		{"evil\u202egpj.exe", "evilgpj.exe", true},
		{"trailing space ", "trailing space ", true},
		{".hidden", ".hidden", true},
		{long + ".mkv", long[:251] + ".mkv", true},
		{long, long[:255], true},
		{strings.Repeat("é", 200), strings.Repeat("é", 127), true}, // 2-byte runes, never cut in half
	}
	for _, tt := range tests {
		got, keep := sanitizeElement(tt.in)
		if got != tt.want || keep != tt.keep {
			t.Errorf("sanitizeElement(%q) = %q, %v; want %q, %v", tt.in, got, keep, tt.want, tt.keep)
		}
	}
}

func TestResolveDuplicates(t *testing.T) {
	files := []File{
		{Path: []string{"a", "b.txt"}},
		{Path: []string{"a", "b.txt"}},
		{Path: []string{"a", "b.txt"}},
		{Path: []string{"a"}}, // collides with the directory a/
		{Path: []string{".pad", "100"}, Attr: AttrPad},
		{Path: []string{".pad", "100"}, Attr: AttrPad}, // pad files are never renamed
		{Path: []string{"c.tar.gz"}},
		{Path: []string{"c.tar.gz"}},
	}
	if err := resolveDuplicates(files); err != nil {
		t.Fatal(err)
	}
	want := []string{"a/b.txt", "a/b.1.txt", "a/b.2.txt", "a.1", ".pad/100", ".pad/100", "c.tar.gz", "c.tar.1.gz"}
	for i, f := range files {
		if got := strings.Join(f.Path, "/"); got != want[i] {
			t.Errorf("file %d = %q, want %q", i, got, want[i])
		}
	}
}
