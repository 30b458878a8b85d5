package fetch

import "context"

// Stats is a snapshot of a torrent's transfer state.
type Stats struct {
	Pieces, Have         int
	Length, Left         int64
	Downloaded, Uploaded int64
	DownRate, UpRate     float64 // bytes/s, summed over peers
	Peers, Seeders       int
	Candidates           int   // addresses known
	Cancelled            int64 // requests withdrawn: seeks away from readahead, endgame duplicates
}

// Stats returns a snapshot, taken on the loop; it fails only if ctx ends or
// the torrent is not running.
func (t *Torrent) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := t.do(ctx, func() {
		s = Stats{
			Pieces: t.info.NumPieces(), Have: t.picker.HaveCount(), Length: t.info.Length, Left: t.left.Load(),
			Downloaded: t.downloaded.Load(), Uploaded: t.uploaded.Load(),
			Peers: len(t.peers), Candidates: len(t.candidates), Cancelled: t.cancelled,
		}
		for p := range t.peers {
			s.DownRate += p.downRate.perSec
			s.UpRate += p.upRate.perSec
			if p.has.Full() {
				s.Seeders++
			}
		}
	})
	return s, err
}
