package metainfo

import "testing"

func TestPieceArithmetic(t *testing.T) {
	// Files: a (10), empty (0), b (25), c (5): 40 bytes in pieces of 16.
	info := &Info{PieceLength: 16, Files: []File{
		{Path: []string{"a"}, Length: 10}, {Path: []string{"empty"}, Length: 0},
		{Path: []string{"b"}, Length: 25}, {Path: []string{"c"}, Length: 5},
	}, Pieces: make([]byte, 3*HashSize)}
	if err := info.layout(); err != nil {
		t.Fatal(err)
	}
	if info.Length != 40 || info.NumPieces() != 3 || info.PieceSize(2) != 8 || info.PieceSize(0) != 16 {
		t.Fatalf("length %d, %d pieces, last %d", info.Length, info.NumPieces(), info.PieceSize(2))
	}
	if info.Files[2].Offset != 10 || info.Files[3].Offset != 35 {
		t.Fatalf("offsets %+v", info.Files)
	}
	ranges := []struct {
		off, n     int64
		first, end int
	}{
		{0, 1, 0, 1}, {0, 16, 0, 1}, {0, 17, 0, 2}, {15, 2, 0, 2}, {16, 16, 1, 2},
		{39, 100, 2, 3}, {40, 1, 0, 0}, {-1, 5, 0, 0}, {5, 0, 0, 0}, {0, 40, 0, 3},
	}
	for _, r := range ranges {
		if f, e := info.PieceRange(r.off, r.n); f != r.first || e != r.end {
			t.Errorf("PieceRange(%d, %d) = %d, %d; want %d, %d", r.off, r.n, f, e, r.first, r.end)
		}
	}
	fileAt := map[int64]int{0: 0, 9: 0, 10: 2, 34: 2, 35: 3, 39: 3, 40: -1, -1: -1}
	for off, want := range fileAt {
		if got := info.FileAt(off); got != want {
			t.Errorf("FileAt(%d) = %d, want %d", off, got, want)
		}
	}
	if f, e := info.FilePieces(2); f != 0 || e != 3 {
		t.Errorf("FilePieces(b) = %d, %d", f, e)
	}
	if f, e := info.FilePieces(1); f != e {
		t.Errorf("FilePieces(empty) = %d, %d; want an empty range", f, e)
	}
}
