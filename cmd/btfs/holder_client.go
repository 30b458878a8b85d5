package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

// Limits of a command that is a session's client.
const (
	// holderStartTimeout bounds the start of a session process: opening
	// the cache (a large one takes a while), the listener and the DHT.
	holderStartTimeout = time.Minute
	// holderTries bounds the attempts to reach a session: one may be
	// exiting as we connect, or two commands may start one at once.
	holderTries = 5
	// holderExitWait bounds the wait for an exiting session's process to be
	// gone, so that the next command finds the cache free.
	holderExitWait = 10 * time.Second
)

// holderFlags are passed on to a session the command starts: every flag
// of the process as a whole, when the command sets it.
var holderFlags = []string{"cache-size", "port", "listen", "max-peers", "max-download-rate", "max-upload-rate",
	"no-dht", "dht-bootstrap", "encryption", "idle-timeout", "max-active"}

// runHolderClient sends req to the session holding --cache-dir (started
// if none runs), prints what it sends back and returns once the request
// ends. Interrupted (Ctrl-C), it asks the session to end the request and
// waits for it to say it has.
func runHolderClient(c *cli.Context, req holderRequest) error {
	req.PID, req.Verbose = os.Getpid(), c.Bool("verbose")
	for try := 0; ; try++ {
		conn, err := dialHolder(c)
		if err != nil {
			return err
		}
		heard, err := holderExchange(c, conn, req)
		if heard || try == holderTries-1 {
			return err
		}
		// The session closed before a word: it was exiting. Start another.
		time.Sleep(time.Duration(try+1) * 100 * time.Millisecond)
	}
}

// holderExchange runs one request on conn; heard reports whether the
// session answered at all.
func holderExchange(c *cli.Context, conn *net.UnixConn, req holderRequest) (heard bool, err error) {
	defer conn.Close()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return false, nil
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-c.Context.Done():
			conn.CloseWrite() // the session ends the request and says so
		case <-stop:
		}
	}()
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		heard = true
		var m holderMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return true, fmt.Errorf("unreadable message from the btfs session: %w", err)
		}
		switch {
		case m.Log != "":
			io.WriteString(c.App.ErrWriter, m.Log)
		case m.Out != "":
			io.WriteString(c.App.Writer, m.Out)
		case m.Done:
			if m.Last {
				waitGone(m.PID, holderExitWait)
			}
			if m.Err != "" {
				return true, errors.New(m.Err)
			}
			return true, nil
		}
	}
	if !heard {
		return false, nil
	}
	return true, fmt.Errorf("the btfs session holding %s ended unexpectedly (its log: %s)",
		c.String("cache-dir"), holderLog(c.String("cache-dir")))
}

// dialHolder connects to the session of --cache-dir, starting one if none
// answers.
func dialHolder(c *cli.Context) (*net.UnixConn, error) {
	dir := c.String("cache-dir")
	path := holderSocket(dir)
	var err error
	for range holderTries {
		var conn net.Conn
		if conn, err = net.Dial("unix", path); err == nil {
			return conn.(*net.UnixConn), nil
		}
		if err = startHolder(c, dir); err != nil && !strings.Contains(err.Error(), "in use by another btfs process") {
			return nil, err
		}
		// Started, or another command's session won the cache: dial again.
	}
	return nil, err
}

// startHolder starts a session for dir in the background, in a session of
// its own (no terminal's signals reach it), with the flags the command
// set, and waits until it serves or has failed.
func startHolder(c *cli.Context, dir string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("start the btfs session: %w", err)
	}
	args := []string{}
	if c.Bool("verbose") {
		args = append(args, "--verbose")
	}
	args = append(args, "session", "--cache-dir", absPath(dir))
	for _, name := range holderFlags {
		if c.IsSet(name) {
			args = append(args, "--"+name+"="+c.String(name))
		}
	}
	if err := makeRuntimeDir(runtimeDir()); err != nil {
		return fmt.Errorf("start the btfs session: %w", err)
	}
	logFile, err := os.OpenFile(holderLog(dir), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start the btfs session: %w", err)
	}
	defer logFile.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start the btfs session: %w", err)
	}
	defer pr.Close()
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = logFile, logFile, []*os.File{pw}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return fmt.Errorf("start the btfs session: %w", err)
	}
	go cmd.Wait() // reaps it if it ends before we do
	pr.SetReadDeadline(time.Now().Add(holderStartTimeout))
	answer, _ := io.ReadAll(io.LimitReader(pr, 64<<10))
	switch msg := strings.TrimSpace(string(answer)); msg {
	case "ok":
		return nil
	case "":
		return fmt.Errorf("the btfs session for %s did not start (its log: %s)", dir, holderLog(dir))
	default:
		return errors.New(msg)
	}
}

// waitGone waits until process pid has exited, at most max.
func waitGone(pid int, max time.Duration) {
	deadline := time.Now().Add(max)
	for pid > 0 && processAlive(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}
