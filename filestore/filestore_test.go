package filestore

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/btfs/btfs/metainfo"
)

func testInfo() *metainfo.Info {
	info := &metainfo.Info{Name: "t", PieceLength: 8, MultiFile: true, Files: []metainfo.File{
		{Path: []string{"a"}, Length: 5},
		{Path: []string{".pad", "3"}, Length: 3, Attr: metainfo.AttrPad},
		{Path: []string{"d", "b"}, Length: 10},
		{Path: []string{"empty"}, Length: 0},
	}}
	var off int64
	for i := range info.Files {
		info.Files[i].Offset = off
		off += info.Files[i].Length
	}
	info.Length = off
	info.Pieces = make([]byte, 3*metainfo.HashSize)
	return info
}

func TestWriteReadAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir, testInfo(), true)
	defer s.Close()
	// Piece 0 = a (5 bytes) + pad (3); piece 1 = b[0:8]; piece 2 = b[8:10].
	if err := s.WritePiece(0, [][]byte{[]byte("hello"), {0, 0, 0}}); err != nil {
		t.Fatal(err)
	}
	if err := s.WritePiece(1, [][]byte{[]byte("0123"), []byte("4567")}); err != nil {
		t.Fatal(err)
	}
	if err := s.WritePiece(2, [][]byte{[]byte("89")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"t/a": "hello", "t/d/b": "0123456789", "t/empty": ""} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "t/.pad")); !os.IsNotExist(err) {
		t.Errorf("pad file written: %v", err)
	}
	buf := make([]byte, 8)
	if err := s.ReadAt(buf, 0, 0); err != nil || !bytes.Equal(buf, []byte("hello\x00\x00\x00")) {
		t.Fatalf("piece 0 = %q, %v", buf, err)
	}
	if err := s.ReadAt(buf[:4], 1, 3); err != nil || string(buf[:4]) != "3456" {
		t.Fatalf("piece 1 at 3 = %q, %v", buf[:4], err)
	}
	if err := s.ReadAt(buf, 2, 0); err == nil {
		t.Fatal("read past the end of the torrent")
	}
}

func TestReadOnlyMissingFile(t *testing.T) {
	s := Open(t.TempDir(), testInfo(), false)
	defer s.Close()
	if err := s.ReadAt(make([]byte, 4), 0, 0); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if err := s.WritePiece(0, [][]byte{make([]byte, 8)}); err == nil {
		t.Fatal("read-only store accepted a write")
	}
}
