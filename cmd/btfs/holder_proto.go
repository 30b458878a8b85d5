package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"path/filepath"
	"sync"
	"time"
)

// One cache, many commands. A cache directory is held by one process, a
// "btfs session" that mount and seed --from-cache start in the background
// when none runs for their cache, and that exits when the last of them is
// gone. Every such command is a client: it sends its request over the
// session's socket, stays in the foreground holding the connection, prints
// the log the session sends it and exits when its work ends. Its end of
// the connection closing (Ctrl-C, kill -9, the terminal gone) ends its work
// alone: the session unmounts that mountpoint, drops its torrents and, if
// it was the last client, stops. The FUSE mounts belong to the session, so
// a client killed by any signal leaves no broken mount behind, and no
// client's end strands another's mount.
//
// The protocol: JSON lines. The client sends one holderRequest, then
// nothing; closing its write side (or the whole connection) asks the
// session to end the request. The session sends holderMsg lines: log
// lines, output, and a last one with Done.

// holderSocket is where the session of cacheDir listens: in the runtime
// directory (a socket path must be short), named after the directory.
func holderSocket(cacheDir string) string {
	sum := sha256.Sum256([]byte(absPath(cacheDir)))
	return filepath.Join(runtimeDir(), "session-"+hex.EncodeToString(sum[:6])+".sock")
}

// holderLog is where a session's own log goes (its stderr): a command's
// log goes to the command.
func holderLog(cacheDir string) string {
	return holderSocket(cacheDir)[:len(holderSocket(cacheDir))-len(".sock")] + ".log"
}

// holderRequest is what a command asks of the session.
type holderRequest struct {
	Op      string `json:"op"` // "mount" or "seed"
	PID     int    `json:"pid"`
	Verbose bool   `json:"verbose"`
	// Torrents: .torrent paths (absolute) or magnet links.
	Torrents []string `json:"torrents"`
	Metrics  string   `json:"metrics,omitempty"`

	// mount
	Mountpoint      string        `json:"mountpoint,omitempty"`
	Readahead       int64         `json:"readahead,omitempty"`
	ReadTimeout     time.Duration `json:"read_timeout,omitempty"`
	Prefetch        bool          `json:"prefetch,omitempty"`
	NoFill          bool          `json:"no_fill,omitempty"`
	AllowOther      bool          `json:"allow_other,omitempty"`
	DebugFUSE       bool          `json:"debug_fuse,omitempty"`
	WaitMetadata    bool          `json:"wait_metadata,omitempty"`
	MetadataTimeout time.Duration `json:"metadata_timeout,omitempty"`
	// Watch is a directory whose .torrent and .magnet files the mount shows.
	Watch string `json:"watch,omitempty"`
}

// holderMsg is one line from the session to a command.
type holderMsg struct {
	Log  string `json:"log,omitempty"` // a log line, for stderr
	Out  string `json:"out,omitempty"` // for stdout
	Done bool   `json:"done,omitempty"`
	Err  string `json:"err,omitempty"` // with Done: the command fails with it
	// Last, with Done: the session is exiting (its last client), so the
	// cache is free once its process is gone (PID).
	Last bool `json:"last,omitempty"`
	PID  int  `json:"pid,omitempty"`
}

// msgWriter sends holderMsgs on a connection; safe for concurrent use.
// Write errors are dropped: a client that is gone reads nothing.
type msgWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newMsgWriter(c net.Conn) *msgWriter { return &msgWriter{enc: json.NewEncoder(c)} }

func (w *msgWriter) send(m holderMsg) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.enc.Encode(m)
}

// logWriter is an io.Writer for a slog handler: each log line becomes a
// holderMsg.
type logWriter struct{ w *msgWriter }

func (lw logWriter) Write(p []byte) (int, error) {
	lw.w.send(holderMsg{Log: string(p)})
	return len(p), nil
}
