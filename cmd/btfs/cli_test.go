package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// btfs runs the command in-process and returns its exit code and output.
func btfs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"btfs"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.torrent")
	if err := os.WriteFile(bad, []byte("d4:infod4:name1:aee"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args     []string
		code     int
		inStderr string
	}{
		{[]string{"--help"}, exitOK, ""},
		{[]string{"--version"}, exitOK, ""},
		{[]string{"help", "create"}, exitOK, ""},
		{[]string{"info"}, exitUsage, "exactly one"},
		{[]string{"info", "a", "b"}, exitUsage, "exactly one"},
		{[]string{"info", "--bogus", "x"}, exitUsage, "not defined"},
		{[]string{"frobnicate"}, exitUsage, "unknown command"},
		{[]string{"create"}, exitUsage, "exactly one PATH"},
		{[]string{"create", "--piece-length", "lots", dir}, exitUsage, "piece-length"},
		{[]string{"get", "--no-dht", "--max-download-rate", "fast", "x.torrent"}, exitUsage, "--max-download-rate"},
		{[]string{"seed", "--no-dht", "--max-upload-rate", "-5", "x.torrent"}, exitUsage, "--max-upload-rate"},
		{[]string{"get", "--no-dht", "--dht-bootstrap", "127.0.0.1", "x.torrent"}, exitUsage, "--dht-bootstrap"},
		{[]string{"tracker", "--trust-ip-from", "banana"}, exitUsage, "--trust-ip-from"},
		{[]string{"tracker", "--max-torrents", "-1"}, exitUsage, "--max-torrents"},
		{[]string{"tracker", "--announce-burst-per-ip", "0"}, exitUsage, "--announce-burst-per-ip"},
		{[]string{"info", filepath.Join(dir, "missing.torrent")}, exitRuntime, "no such file"},
		{[]string{"info", bad}, exitRuntime, "piece length is missing"},
		{[]string{"create", filepath.Join(dir, "missing")}, exitRuntime, "no such file"},
	}
	for _, tt := range tests {
		code, _, stderr := btfs(t, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.inStderr) {
			t.Errorf("btfs %q: exit %d, stderr %q; want exit %d mentioning %q", tt.args, code, stderr, tt.code, tt.inStderr)
		}
	}
}

func TestCreateThenInfo(t *testing.T) {
	dir := t.TempDir()
	content := filepath.Join(dir, "album")
	for name, data := range map[string]string{"01.flac": strings.Repeat("a", 50000), "cover/front.jpg": "jpeg", "notes.txt": ""} {
		p := filepath.Join(content, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "album.torrent")
	code, stdout, stderr := btfs(t, "create", "-t", "http://127.0.0.1:6969/announce", "-t", "udp://127.0.0.1:6969,http://127.0.0.2/announce",
		"-l", "16KiB", "-c", "test album", "-w", "http://127.0.0.1:8080/files", "-o", out, content)
	if code != exitOK {
		t.Fatalf("create: exit %d: %s", code, stderr)
	}
	if code, _, stderr := btfs(t, "create", "-o", out, content); code != exitRuntime || !strings.Contains(stderr, "--force") {
		t.Errorf("create over an existing file: exit %d, %s", code, stderr)
	}
	code, jsonOut, stderr := btfs(t, "info", "--json", out)
	if code != exitOK {
		t.Fatalf("info: exit %d: %s", code, stderr)
	}
	var info infoJSON
	if err := json.Unmarshal([]byte(jsonOut), &info); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout, info.InfoHash) || len(info.InfoHash) != 40 {
		t.Errorf("create printed %q, info says %s", stdout, info.InfoHash)
	}
	if info.Name != "album" || info.PieceLength != 16384 || info.Pieces != 4 || info.Length != 50004 || info.Comment != "test album" {
		t.Errorf("info %+v", info)
	}
	if len(info.Trackers) != 2 || len(info.Trackers[1]) != 2 || info.WebSeeds[0] != "http://127.0.0.1:8080/files/" {
		t.Errorf("trackers %q, web seeds %q", info.Trackers, info.WebSeeds)
	}
	var paths []string
	for _, f := range info.Files {
		paths = append(paths, f.Path)
	}
	if strings.Join(paths, ",") != "album/01.flac,album/cover/front.jpg,album/notes.txt" {
		t.Errorf("files %q", paths)
	}
	code, text, _ := btfs(t, "info", out)
	for _, want := range []string{info.InfoHash, "tier 2: udp://127.0.0.1:6969, http://127.0.0.2/announce", "cover/", "front.jpg  (4 B)"} {
		if code != exitOK || !strings.Contains(text, want) {
			t.Errorf("info text lacks %q:\n%s", want, text)
		}
	}
}
