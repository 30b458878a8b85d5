package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The control endpoint: every btfs mount serves HTTP on a unix socket of its
// own in the runtime directory, and btfs status asks each one. A socket's
// name holds a hash of its mountpoint (to find one mount without asking all)
// and the pid of its process (to tell a dead process's leftover from a mount
// still starting).

// controlTimeout bounds one status request: a mount answers from memory, so
// one that takes longer is stuck, and btfs status moves on.
const controlTimeout = 5 * time.Second

// runtimeDir is where the control sockets live: $XDG_RUNTIME_DIR/btfs, else
// /run/btfs for root, else btfs-UID in the temporary directory.
func runtimeDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "btfs")
	}
	if os.Geteuid() == 0 {
		return "/run/btfs"
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("btfs-%d", os.Geteuid()))
}

// makeRuntimeDir creates dir for our sockets, refusing one that someone else
// could have planted (in a shared /tmp): it must be ours and closed to others.
func makeRuntimeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !st.IsDir() || !ok || int(sys.Uid) != os.Geteuid() || st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s must be a directory owned by uid %d and writable by nobody else", dir, os.Geteuid())
	}
	return nil
}

// absPath is the form of a path that status shows, and that names a
// mountpoint's socket.
func absPath(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return filepath.Clean(dir)
}

// socketPrefix is the start of the socket names of mounts at mountpoint.
func socketPrefix(mountpoint string) string {
	sum := sha256.Sum256([]byte(absPath(mountpoint)))
	return "mount-" + hex.EncodeToString(sum[:6]) + "-"
}

// socketPID is the pid in a socket's name, or 0.
func socketPID(path string) int {
	name := strings.TrimSuffix(filepath.Base(path), ".sock")
	pid, err := strconv.Atoi(name[strings.LastIndexByte(name, '-')+1:])
	if err != nil {
		return 0
	}
	return pid
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// controlServer is a mount's control endpoint.
type controlServer struct {
	path string
	srv  *http.Server
	done chan struct{} // closed when Serve has returned
}

// startControl serves h on a socket for mountpoint in dir, until Close.
// Leftovers of dead mounts in dir are removed on the way.
func startControl(dir, mountpoint string, h http.Handler, log *slog.Logger) (*controlServer, error) {
	if err := makeRuntimeDir(dir); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	removeStale(dir)
	path := filepath.Join(dir, socketPrefix(mountpoint)+strconv.Itoa(os.Getpid())+".sock")
	os.Remove(path) // only a dead process of ours can have left it
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	cs := &controlServer{
		path: path,
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: controlTimeout, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)},
		done: make(chan struct{}),
	}
	go func() {
		defer close(cs.done)
		cs.srv.Serve(ln) // ErrServerClosed after Close; the listener removes the socket
	}()
	return cs, nil
}

// Close stops the server, waits for requests in progress (briefly) and
// removes the socket.
func (cs *controlServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
	defer cancel()
	if cs.srv.Shutdown(ctx) != nil {
		cs.srv.Close()
	}
	<-cs.done
	os.Remove(cs.path)
}

// controlSockets lists the sockets in dir that a mount listens on, all of
// them or those at mountpoint, and removes those of dead processes.
func controlSockets(dir, mountpoint string) []string {
	pattern := "mount-*.sock"
	if mountpoint != "" {
		pattern = socketPrefix(mountpoint) + "*.sock"
	}
	paths, _ := filepath.Glob(filepath.Join(dir, pattern))
	var live []string
	for _, p := range paths {
		switch probeSocket(p) {
		case socketLive:
			live = append(live, p)
		case socketStale:
			os.Remove(p)
		}
	}
	return live
}

// removeStale removes the sockets of dead mounts in dir.
func removeStale(dir string) { controlSockets(dir, "") }

type socketState int

const (
	socketLive  socketState = iota // something listens
	socketStale                    // nothing listens, and its process is gone
	socketQuiet                    // nothing listens, but a process has its pid (starting up, or the pid was reused)
)

// probeSocket tells a live control socket from a dead process's leftover.
func probeSocket(path string) socketState {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return socketLive
	}
	if pid := socketPID(path); pid > 0 && processAlive(pid) {
		return socketQuiet
	}
	return socketStale
}

// controlClient is an HTTP client that reaches one control socket.
func controlClient(path string) *http.Client {
	return &http.Client{
		Timeout: controlTimeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
			DisableKeepAlives: true,
		},
	}
}
