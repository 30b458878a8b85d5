package fetch

import (
	"context"

	"github.com/btfs/btfs/wire"
	"golang.org/x/time/rate"
)

// NewRateLimit returns a limiter of bytesPerSec for Config.DownloadLimit or
// UploadLimit; share one among torrents to bound a whole process. Its burst
// of a second's worth (at least a few blocks) keeps a limited peer's
// pipeline moving in steps rather than in single blocks.
func NewRateLimit(bytesPerSec int64) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(bytesPerSec), int(max(bytesPerSec, 4*wire.BlockSize)))
}

// throttle waits until lim allows n more bytes; a nil lim never waits.
func throttle(ctx context.Context, lim *rate.Limiter, n int) error {
	if lim == nil {
		return nil
	}
	return lim.WaitN(ctx, n)
}
