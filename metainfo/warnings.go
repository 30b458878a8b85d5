package metainfo

import "fmt"

// Warnings lists what is legal but unusual about a torrent, for the user.
func (info *Info) Warnings() []string {
	var w []string
	pl := info.PieceLength
	if pl < MinSanePieceLength || pl > MaxSanePieceLength {
		w = append(w, fmt.Sprintf("piece length %d is outside the usual 16 KiB to 64 MiB", pl))
	}
	if !isPowerOfTwo(pl) {
		w = append(w, fmt.Sprintf("piece length %d is not a power of two; some clients refuse it", pl))
	}
	return w
}
