package metainfo

import "sort"

// NumPieces is the number of pieces.
func (info *Info) NumPieces() int { return len(info.Pieces) / HashSize }

// PieceHash returns the SHA-1 of piece i.
func (info *Info) PieceHash(i int) Hash {
	return Hash(info.Pieces[i*HashSize : (i+1)*HashSize])
}

// PieceOffset is where piece i starts in the torrent's byte space.
func (info *Info) PieceOffset(i int) int64 { return int64(i) * info.PieceLength }

// PieceSize is the length of piece i: PieceLength, except for a shorter last piece.
func (info *Info) PieceSize(i int) int64 {
	start := info.PieceOffset(i)
	return min(info.PieceLength, info.Length-start)
}

// PieceRange returns the pieces [first, end) that hold the bytes
// [off, off+n) of the torrent. An empty or out-of-range span gives first == end.
func (info *Info) PieceRange(off, n int64) (first, end int) {
	if n <= 0 || off < 0 || off >= info.Length {
		return 0, 0
	}
	last := min(off+n, info.Length) - 1
	return int(off / info.PieceLength), int(last/info.PieceLength) + 1
}

// FileAt returns the index of the file that holds byte off of the torrent,
// or -1 when off is out of range. Zero-length files hold no bytes and are
// never returned.
func (info *Info) FileAt(off int64) int {
	if off < 0 || off >= info.Length {
		return -1
	}
	// The first file that ends after off; empty files end where they start.
	return sort.Search(len(info.Files), func(i int) bool {
		f := &info.Files[i]
		return f.Offset+f.Length > off
	})
}

// FilePieces returns the pieces [first, end) that hold file i.
func (info *Info) FilePieces(i int) (first, end int) {
	f := &info.Files[i]
	return info.PieceRange(f.Offset, f.Length)
}
