package main

import (
	"bufio"
	"encoding/json"
	"github.com/btfs/btfs/internal/testproc"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fixtures are content trees the interop tests make torrents of.
var fixtures = map[string]map[string]int{
	"single":  {"movie.mkv": 300000},
	"multi":   {"a.bin": 70000, "b.txt": 12345, "c.dat": 1},
	"nested":  {"top.txt": 5000, "d1/d2/d3/deep.bin": 40000, "d1/side.bin": 65536},
	"unicode": {"ünïcödé/日本語.txt": 20000, "ünïcödé/emoji 🎬.mkv": 33333, "Ωmega.iso": 100},
	"empty":   {"data.bin": 50000, "empty.txt": 0, "sub/also-empty": 0},
}

func makeFixture(t *testing.T, name string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), name)
	for rel, size := range fixtures[name] {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*7 + len(rel))
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if name == "single" {
		return filepath.Join(root, "movie.mkv")
	}
	return root
}

// shown is what transmission-show reports of a torrent.
type shown struct {
	hash   string
	pieces int
	files  []string
}

var fileLine = regexp.MustCompile(`^  (.*) \([0-9.]+ [kMGT]?B\)$`)

func transmissionShow(t *testing.T, torrent string) shown {
	t.Helper()
	out, err := exec.Command(testproc.RequireTool(t, "transmission-show"), torrent).CombinedOutput()
	if err != nil {
		t.Fatalf("transmission-show: %v\n%s", err, out)
	}
	var s shown
	section := ""
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "FILES" || line == "GENERAL" || line == "TRACKERS":
			section = line
		case strings.HasPrefix(line, "  Hash: "):
			s.hash = strings.TrimPrefix(line, "  Hash: ")
		case strings.HasPrefix(line, "  Piece Count: "):
			s.pieces, _ = strconv.Atoi(strings.TrimPrefix(line, "  Piece Count: "))
		case section == "FILES":
			if m := fileLine.FindStringSubmatch(line); m != nil {
				s.files = append(s.files, m[1])
			}
		}
	}
	slices.Sort(s.files)
	return s
}

func ourInfo(t *testing.T, torrent string) shown {
	t.Helper()
	code, out, stderr := btfs(t, "info", "--json", torrent)
	if code != exitOK {
		t.Fatalf("btfs info %s: exit %d: %s", torrent, code, stderr)
	}
	var j infoJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatal(err)
	}
	s := shown{hash: j.InfoHash, pieces: j.Pieces}
	for _, f := range j.Files {
		s.files = append(s.files, f.Path)
	}
	slices.Sort(s.files)
	return s
}

func sameShown(t *testing.T, what string, ours, theirs shown) {
	t.Helper()
	if ours.hash != theirs.hash || ours.pieces != theirs.pieces || !slices.Equal(ours.files, theirs.files) {
		t.Errorf("%s:\n btfs:              %s %d pieces %q\n transmission-show: %s %d pieces %q",
			what, ours.hash, ours.pieces, ours.files, theirs.hash, theirs.pieces, theirs.files)
	}
}

// foreignTorrent makes a torrent of src with another client's tool (both
// mktorrent and transmission-create take "-o FILE").
func foreignTorrent(t *testing.T, src, tool string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), tool+".torrent")
	args = append(args, "-o", out, src)
	if msg, err := exec.Command(testproc.RequireTool(t, tool), args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, msg)
	}
	return out
}

// TestInteropForeignTorrents: torrents made by mktorrent and transmission-create
// parse, and btfs info agrees with transmission-show on each.
func TestInteropForeignTorrents(t *testing.T) {
	for name := range fixtures {
		t.Run(name, func(t *testing.T) {
			src := makeFixture(t, name)
			mk := foreignTorrent(t, src, "mktorrent", "-l", "15", "-a", "http://127.0.0.1:6969/announce")
			sameShown(t, "mktorrent", ourInfo(t, mk), transmissionShow(t, mk))
			tr := foreignTorrent(t, src, "transmission-create", "-s", "32", "-t", "http://127.0.0.1:6969/announce")
			sameShown(t, "transmission-create", ourInfo(t, tr), transmissionShow(t, tr))
		})
	}
}

// TestInteropOurTorrents: torrents made by btfs create are read the same way
// by transmission-show, and their info dictionary is byte-identical to
// mktorrent's for the same content and piece length.
func TestInteropOurTorrents(t *testing.T) {
	for name := range fixtures {
		t.Run(name, func(t *testing.T) {
			src := makeFixture(t, name)
			dir := t.TempDir()
			ours := filepath.Join(dir, "btfs.torrent")
			if code, _, stderr := btfs(t, "create", "-l", "32KiB", "-t", "http://127.0.0.1:6969/announce", "-o", ours, src); code != exitOK {
				t.Fatalf("btfs create: %s", stderr)
			}
			sameShown(t, "btfs create", ourInfo(t, ours), transmissionShow(t, ours))
			mk := foreignTorrent(t, src, "mktorrent", "-l", "15", "-a", "http://127.0.0.1:6969/announce")
			if a, b := ourInfo(t, ours).hash, ourInfo(t, mk).hash; a != b {
				t.Errorf("info-hash %s, mktorrent's %s: the info dictionaries differ", a, b)
			}
		})
	}
}
