// Command btfs is a BitTorrent client whose user interface is the filesystem,
// with the rest of BitTorrent's architecture beside it: torrent creation and
// inspection, a tracker, a seeder and a downloader.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/urfave/cli/v2"
)

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// usageError marks an error in how btfs was called (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(c *cli.Context, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if c != nil && c.Command != nil && c.Command.Name != "" {
		msg += fmt.Sprintf(" (see 'btfs help %s')", c.Command.Name)
	}
	return usageError{errors.New(msg)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes btfs with args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	unknown := false
	app.CommandNotFound = func(c *cli.Context, name string) {
		fmt.Fprintf(stderr, "btfs: unknown command %q (see 'btfs --help')\n", name)
		unknown = true
	}
	err := app.RunContext(ctx, interspersed(app, args))
	if unknown {
		return exitUsage
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "btfs: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitRuntime
}

func newApp(stdout, stderr io.Writer) *cli.App {
	// urfave/cli claims -v for --version by default; -v is --verbose here.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version and exit"}
	app := &cli.App{
		Name:      "btfs",
		Usage:     "BitTorrent with the filesystem as its user interface",
		UsageText: "btfs [-v] COMMAND [OPTIONS] [ARGS...]",
		Description: "btfs mounts a torrent as a read-only directory: reading a file fetches exactly the pieces it\n" +
			"needs from the swarm, verified against their SHA-1 before any byte is returned. The other parts\n" +
			"of BitTorrent come with it: create and inspect .torrent files, run a tracker, seed, download.\n\n" +
			"Flags may also follow a command's arguments; after -- everything is an argument.\n\n" +
			"Exit status: 0 on success, 1 on a runtime error, 2 on a usage error.",
		Version:              version(),
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		// Commas inside a --tracker value group URLs into one tier; we split them.
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log debug messages to stderr"},
		},
		Commands: []*cli.Command{
			createCommand(),
			infoCommand(),
			getCommand(),
			seedCommand(),
			trackerCommand(),
			mountCommand(),
			unmountCommand(),
			addCommand(),
			removeCommand(),
			statusCommand(),
			cacheCommand(),
			sessionCommand(),
		},
		OnUsageError: func(c *cli.Context, err error, _ bool) error { return usageError{err} },
		// Errors are printed once, by run, which also picks the exit code.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = app.OnUsageError
	}
	return app
}

// logger returns the logger for a command: quiet by default, debug with -v.
func logger(c *cli.Context) *slog.Logger {
	level := slog.LevelInfo
	if c.Bool("verbose") {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level}))
}

// version reports the module version and VCS revision the binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v + " " + bi.GoVersion
}
