package main

import (
	"time"

	"github.com/btfs/btfs/session"
	"github.com/urfave/cli/v2"
)

// Parking defaults (session.Config.IdleTimeout, MaxActive).
const (
	// defaultIdleTimeout: a player pauses, seeks or reads its next file
	// within minutes; a torrent idle longer leaves its swarm (it costs
	// connections and announces) and rejoins at its next open.
	defaultIdleTimeout = 5 * time.Minute
	// defaultMaxActive bounds the swarms a session keeps at once: each holds
	// up to --max-peers connections and announces on its own, and a player
	// reads few torrents at a time.
	defaultMaxActive = 20
)

// parkFlags are the flags of parking: process-wide, so those of the
// command that starts the session.
func parkFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "idle-timeout", Value: defaultIdleTimeout,
			Usage: "a torrent with no open file and no read for `DUR` leaves its swarm until its next open (0: never)"},
		&cli.IntFlag{Name: "max-active", Value: defaultMaxActive,
			Usage: "at most `N` torrents in their swarms at once; the least recently read idle one leaves first (0: no bound)"},
	}
}

// parkConfig sets cfg's parking from the flags.
func parkConfig(c *cli.Context, cfg *session.Config) error {
	idle, n := c.Duration("idle-timeout"), c.Int("max-active")
	if idle < 0 {
		return usagef(c, "--idle-timeout %v is negative", idle)
	}
	if n < 0 {
		return usagef(c, "--max-active %d is negative", n)
	}
	cfg.IdleTimeout, cfg.MaxActive = idle, n
	return nil
}
