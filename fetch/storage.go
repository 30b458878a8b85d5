package fetch

import (
	"context"
	"crypto/sha1"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/btfs/btfs/internal/bitfield"
	"github.com/btfs/btfs/metainfo"
)

// Storage holds verified pieces. Implementations must be safe for concurrent
// use: the engine reads from several uploading peers while it writes.
type Storage interface {
	// ReadAt fills p from a stored piece, starting off bytes into it.
	ReadAt(p []byte, piece int, off int64) error
	// WritePiece stores a verified piece, given as its consecutive blocks.
	WritePiece(piece int, blocks [][]byte) error
}

// CheckResult is what Check found in a Storage.
type CheckResult struct {
	Have     bitfield.Bitfield // pieces present with the right hash
	FirstBad int               // the first piece missing or wrong, or -1
	BadErr   error             // why FirstBad is bad: a read error, or a hash mismatch
}

// Check hashes every piece in st (on all cores) and reports which are
// present and correct: how a download resumes and how a seeder proves its
// data before serving it. progress, if set, is called with pieces checked.
func Check(ctx context.Context, info *metainfo.Info, st Storage, progress func(done, total int)) (CheckResult, error) {
	n := info.NumPieces()
	res := CheckResult{Have: bitfield.New(n), FirstBad: -1}
	var (
		next, done atomic.Int64
		mu         sync.Mutex // guards res and progress calls
		wg         sync.WaitGroup
	)
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			buf := make([]byte, info.PieceLength)
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				b := buf[:info.PieceSize(i)]
				err := st.ReadAt(b, i, 0)
				if err == nil && sha1.Sum(b) != info.PieceHash(i) {
					err = fmt.Errorf("piece %d has the wrong data (SHA-1 mismatch)", i)
				}
				d := done.Add(1)
				mu.Lock()
				if err == nil {
					res.Have.Set(i)
				} else if res.FirstBad == -1 || i < res.FirstBad {
					res.FirstBad, res.BadErr = i, err
				}
				if progress != nil {
					progress(int(d), n)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return res, ctx.Err()
}
