package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/btfs/btfs/cache"
	"github.com/btfs/btfs/session"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v2"
)

// Limits of the session process (see holder_proto.go).
const (
	// holderFirstClient is how long a session waits for its first client
	// (the command that started it connects at once) before it exits.
	holderFirstClient = 30 * time.Second
	// holderLockWait is how long a new session waits for the cache while a
	// session that is exiting still holds it.
	holderLockWait = 15 * time.Second
	// requestTimeout bounds the read of a client's request.
	requestTimeout = 10 * time.Second
)

func sessionCommand() *cli.Command {
	return &cli.Command{
		Name:   "session",
		Hidden: true,
		Usage:  "hold a cache for the mounts and seeds that use it (they start it)",
		Description: "Started in the background by 'btfs mount' and 'btfs seed --from-cache' when no session holds\n" +
			"their cache; serves their requests and exits when the last of them has gone.",
		Flags:  append(append(cacheFlags(), swarmFlags()...), parkFlags()...),
		Action: runHolder,
	}
}

// holder is the session process: the session, and its clients.
type holder struct {
	sess     *session.Session
	log      *slog.Logger
	cacheDir string
	ln       net.Listener
	reg      *prometheus.Registry
	reads    prometheus.Histogram
	exit     chan struct{} // closed when the last client has been answered

	mu       sync.Mutex // guards clients, closing
	clients  int
	closing  bool
	exitOnce sync.Once
}

// sessionGCPercent is the session's garbage-collection target, unless GOGC
// says otherwise: most of its heap is piece data passing through (blocks
// in flight, pieces being hashed and stored), which the default (100: a
// heap up to twice what is live) doubled in resident memory; 50 keeps a
// mount streaming 1 GiB near 50 MiB of anonymous memory instead of 60-100,
// for a few more collections of a heap with next to no pointers.
const sessionGCPercent = 50

func runHolder(c *cli.Context) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(sessionGCPercent)
	}
	ready := os.NewFile(3, "ready") // the starting command's pipe, if any
	err := serveHolder(c, func() {
		if ready != nil {
			fmt.Fprintln(ready, "ok")
			ready.Close()
			ready = nil
		}
	})
	if err != nil && ready != nil {
		fmt.Fprintln(ready, err)
		ready.Close()
	}
	return err
}

func serveHolder(c *cli.Context, ready func()) error {
	log := logger(c)
	base, err := swarmConfig(c, log)
	if err != nil {
		return err
	}
	if err := parkConfig(c, &base); err != nil {
		return err
	}
	cc, err := openCacheWaiting(c)
	if err != nil {
		return err
	}
	dir := c.String("cache-dir")
	sess, err := startSession(c, log, base, cc, cacheState(dir), true)
	if err != nil {
		cc.Close()
		return err
	}
	h := &holder{sess: sess, log: log, cacheDir: absPath(dir), reg: newRegistry(), reads: newReadHistogram(),
		exit: make(chan struct{})}
	h.reg.MustRegister(newCacheCollector(cc), h.reads, newTorrentCollector(sessionTorrents(sess)))
	if err := makeRuntimeDir(runtimeDir()); err != nil {
		sess.Close()
		return fmt.Errorf("session socket: %w", err)
	}
	path := holderSocket(dir)
	os.Remove(path) // we hold the cache: a socket there is a dead session's
	if h.ln, err = net.Listen("unix", path); err != nil {
		sess.Close()
		return fmt.Errorf("session socket: %w", err)
	}
	log.Info("session started", "cache", h.cacheDir, "port", sess.Port(), "socket", path)
	ready()
	go h.accept(c.Context)
	select {
	case <-h.exit:
	case <-time.After(holderFirstClient):
		if h.closeIfIdle() {
			h.sess.Close()
		} else {
			<-h.exit
		}
	case <-c.Context.Done(): // SIGTERM: clients are told as their work ends
		<-h.exit
	}
	log.Info("session ended")
	return nil
}

// openCacheWaiting opens the cache, waiting a while for a session that is
// exiting to let go of it.
func openCacheWaiting(c *cli.Context) (*cache.Cache, error) {
	deadline := time.Now().Add(holderLockWait)
	for {
		cc, err := openCache(c)
		if err == nil || !strings.Contains(err.Error(), "in use by another btfs process") || time.Now().After(deadline) {
			return cc, err
		}
		select {
		case <-c.Context.Done():
			return nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// accept serves clients until the listener closes.
func (h *holder) accept(ctx context.Context) {
	for {
		conn, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		if h.closing {
			h.mu.Unlock()
			conn.Close() // the client starts a new session
			continue
		}
		h.clients++
		h.mu.Unlock()
		go h.serveClient(ctx, conn)
	}
}

// closeIfIdle stops taking clients if there are none; it reports whether
// it did.
func (h *holder) closeIfIdle() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing || h.clients > 0 {
		return false
	}
	h.closing = true
	h.ln.Close()
	return true
}

// serveClient runs one client's request; its connection closing ends it.
func (h *holder) serveClient(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	w := newMsgWriter(conn)
	var req holderRequest
	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	err := json.NewDecoder(conn).Decode(&req)
	conn.SetReadDeadline(time.Time{})
	if err == nil {
		level := slog.LevelInfo
		if req.Verbose {
			level = slog.LevelDebug
		}
		clog := slog.New(slog.NewTextHandler(logWriter{w}, &slog.HandlerOptions{Level: level}))
		jctx, cancel := context.WithCancel(ctx)
		go func() {
			io.Copy(io.Discard, conn) // the client sends nothing more: EOF is its end
			cancel()
		}()
		err = h.run(jctx, req, clog, w)
		cancel()
	} else {
		err = fmt.Errorf("unreadable request: %w", err)
	}
	h.log.Info("client done", "op", req.Op, "pid", req.PID, "err", err)
	h.mu.Lock()
	h.clients--
	last := h.clients == 0 && !h.closing
	if last {
		h.closing = true
		h.ln.Close()
	}
	h.mu.Unlock()
	msg := holderMsg{Done: true, PID: os.Getpid()}
	if err != nil {
		msg.Err = err.Error()
	}
	if last {
		h.sess.Close() // the cache is free when the client hears
		msg.Last = true
	}
	w.send(msg)
	if last {
		h.exitOnce.Do(func() { close(h.exit) })
	}
}

// run runs one request with its own metrics endpoint, if asked for.
func (h *holder) run(ctx context.Context, req holderRequest, log *slog.Logger, w *msgWriter) error {
	if req.Metrics != "" {
		ms, err := startMetrics(req.Metrics, h.reg, log)
		if err != nil {
			return err
		}
		defer ms.Close()
	}
	switch req.Op {
	case "mount":
		return h.runMount(ctx, req, log)
	case "seed":
		return h.runSeed(ctx, req, log, w)
	}
	return errors.New("unknown request " + req.Op)
}
