package fetch

// The head and tail of an opened file are fetched first, below readahead:
// a media player reads the container's header, then its index, which MP4
// often keeps at the end (moov) and Matroska keeps near it (cues), before it
// plays a frame. ffprobe reads about 5 MB from the start; an index is well
// under a MiB for hours of video.
const (
	headBytes = 4 << 20
	tailBytes = 2 << 20
)

// headTailPieces lists the pieces of the first headBytes and the last
// tailBytes of the range [off, off+size), each once.
func (t *Torrent) headTailPieces(off, size int64) []int {
	if size <= 0 {
		return nil
	}
	first, end := t.info.PieceRange(off, min(size, headBytes))
	tail := min(size, tailBytes)
	tFirst, tEnd := t.info.PieceRange(off+size-tail, tail)
	var out []int
	for i := first; i < end; i++ {
		out = append(out, i)
	}
	for i := max(tFirst, end); i < tEnd; i++ {
		out = append(out, i)
	}
	return out
}
