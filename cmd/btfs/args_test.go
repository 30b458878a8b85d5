package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestInterspersed(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	tests := []struct{ in, want string }{
		{"create DIR -o x.torrent", "create -o x.torrent DIR"},
		{"create DIR --output=x.torrent -l 16KiB --private", "create --output=x.torrent -l 16KiB --private DIR"},
		{"create -t http://a DIR -t http://b", "create -t http://a -t http://b DIR"},
		{"mount X.torrent /mnt -v", "-v mount X.torrent /mnt"},
		{"-v mount X.torrent /mnt --read-timeout 5s", "-v mount --read-timeout 5s X.torrent /mnt"},
		{"seed X.torrent --max-upload-rate -5", "seed --max-upload-rate -5 X.torrent"},
		{"info X -- -odd-name.torrent", "info -- X -odd-name.torrent"},
		{"info -- -odd-name.torrent --json", "info -- -odd-name.torrent --json"},
		{"info X --json -- -odd-name.torrent", "info --json -- X -odd-name.torrent"},
		{"info - --json", "info --json -"},
		{"info X --bogus", "info --bogus X"},
		{"info X -h", "info -h X"},
		{"cache rm HASH --cache-dir /c", "cache rm --cache-dir /c HASH"},
		{"cache ls --json -v", "-v cache ls --json"},
		{"umount /mnt -v", "-v umount /mnt"},
		{"frobnicate X -v", "frobnicate X -v"},
		{"help create", "help create"},
		{"create DIR -o", "create -o DIR"},
		{"create DIR --generate-bash-completion", "create DIR --generate-bash-completion"},
	}
	for _, tt := range tests {
		got := strings.Join(interspersed(app, append([]string{"btfs"}, strings.Fields(tt.in)...))[1:], " ")
		if got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestInterspersedEveryFlag: every flag of every command (and subcommand)
// may follow the command's arguments, with its value when it takes one.
func TestInterspersedEveryFlag(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	var check func(path []string, cmds []*cli.Command)
	check = func(path []string, cmds []*cli.Command) {
		for _, cmd := range cmds {
			at := append(slices.Clip(path), cmd.Name)
			check(at, cmd.Subcommands)
			for _, f := range cmd.Flags {
				flag := []string{"--" + f.Names()[0]}
				if tv, ok := f.(interface{ TakesValue() bool }); ok && tv.TakesValue() {
					flag = append(flag, "VALUE")
				}
				in := slices.Concat([]string{"btfs"}, at, []string{"ARG"}, flag, []string{"ARG2"})
				want := slices.Concat([]string{"btfs"}, at, flag, []string{"ARG", "ARG2"})
				if got := interspersed(app, in); !slices.Equal(got, want) {
					t.Errorf("%q: got %q, want %q", in, got, want)
				}
			}
		}
	}
	check(nil, app.Commands)
}

// TestFlagsAfterArguments runs commands with their flags last.
func TestFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "data.bin")
	if err := os.WriteFile(src, []byte(strings.Repeat("z", 70000)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x.torrent")
	code, stdout, stderr := btfs(t, "create", src, "-o", out, "--no-date", "-l", "32KiB", "-t", "http://127.0.0.1:1/announce")
	if code != exitOK || !strings.Contains(stdout, "3 pieces of 32 KiB") {
		t.Fatalf("create PATH -o FILE ...: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = btfs(t, "info", out, "--json")
	if code != exitOK || !strings.Contains(stdout, `"piece_length": 32768`) {
		t.Fatalf("info FILE --json: exit %d\n%s%s", code, stdout, stderr)
	}
	cacheDir := filepath.Join(dir, "cache")
	code, stdout, stderr = btfs(t, "cache", "ls", "--cache-dir", cacheDir, "--json", "-v")
	if code != exitOK || !strings.Contains(stdout, cacheDir) {
		t.Fatalf("cache ls --cache-dir DIR --json -v: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := btfs(t, "info", out, "--bogus"); code != exitUsage || !strings.Contains(stderr, "bogus") {
		t.Fatalf("an unknown flag after the arguments: exit %d, %s", code, stderr)
	}
}
