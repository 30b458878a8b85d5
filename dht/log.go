package dht

import (
	"context"
	"log/slog"

	alog "github.com/anacrolix/log"
)

// libraryLogger returns an anacrolix/log Logger that writes to l. The
// library's messages are about single queries and traversals ("error
// bootstrapping", "rate limit exceeded"), which nobody can act on, so all
// but its Critical ones are debug messages here; with debug off they are
// filtered before they are formatted.
func libraryLogger(l *slog.Logger) alog.Logger {
	lg := alog.NewLogger("dht")
	lg.SetHandlers(slogHandler{l})
	if l.Enabled(context.Background(), slog.LevelDebug) {
		return lg.WithFilterLevel(alog.Debug)
	}
	return lg.WithFilterLevel(alog.Critical)
}

// slogHandler is an anacrolix/log Handler over a *slog.Logger.
type slogHandler struct{ l *slog.Logger }

func (h slogHandler) Handle(r alog.Record) {
	level := slog.LevelDebug
	if r.Level == alog.Critical {
		level = slog.LevelWarn
	}
	h.l.Log(context.Background(), level, "dht: "+r.Msg.String())
}
