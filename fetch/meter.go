package fetch

import "time"

// meter is a smoothed bytes-per-second figure, updated by the loop once per
// tick from a running total.
type meter struct {
	last   int64
	perSec float64
}

// rateSmoothing weighs the newest second: high enough to follow a peer that
// speeds up within a few seconds, low enough to ride out one slow second.
const rateSmoothing = 0.4

func (r *meter) update(total int64, dt time.Duration) {
	if dt <= 0 {
		return
	}
	inst := float64(total-r.last) / dt.Seconds()
	r.last = total
	r.perSec += rateSmoothing * (inst - r.perSec)
}
