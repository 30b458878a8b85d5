package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"github.com/btfs/btfs/internal/testproc"
	"github.com/btfs/btfs/internal/wait"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/bitfield"
)

func TestPieceMap(t *testing.T) {
	bf := func(n int, have ...int) bitfield.Bitfield {
		b := bitfield.New(n)
		for _, i := range have {
			b.Set(i)
		}
		return b
	}
	all := bitfield.New(100)
	all.SetAll()
	for _, tt := range []struct {
		have  bitfield.Bitfield
		width int
		want  string
	}{
		{bf(0), 8, ""},
		{bf(4, 1, 3), 8, " # #"},               // fewer pieces than columns: one each
		{bf(8, 0, 1, 2, 5), 4, "#.. "},         // two pieces a column
		{bf(10, 9), 3, "  ."},                  // uneven buckets: 3, 3, 4 pieces
		{all, 64, strings.Repeat("#", 64)},     // all held
		{bf(100), 64, strings.Repeat(" ", 64)}, // none
		{bf(1000, 999), 64, strings.Repeat(" ", 63) + "."},
	} {
		if got := pieceMap(tt.have, tt.width); got != tt.want {
			t.Errorf("pieceMap(%d pieces, width %d) = %q, want %q", tt.have.Len(), tt.width, got, tt.want)
		}
	}
}

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.ProcessState.Pid()
}

// leftoverSocket makes a socket file nobody listens on, as a killed process
// leaves it.
func leftoverSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
}

// The runtime directory lists live mounts; a dead process's socket is
// removed; one whose process lives but does not listen (yet) is left alone.
func TestControlSockets(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "btfs")
	if err := makeRuntimeDir(dir); err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(controlStatus{Mount: mountSummary{Mountpoint: absPath("/mnt/a"), Torrents: 1},
			Torrents: []mountStatus{{Name: "x", Mountpoint: absPath("/mnt/a")}}})
	})
	cs, err := startControl(dir, "/mnt/a", h, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, socketPrefix("/mnt/b")+strconv.Itoa(deadPID(t))+".sock")
	leftoverSocket(t, stale)
	quiet := filepath.Join(dir, socketPrefix("/mnt/c")+strconv.Itoa(os.Getpid())+".sock")
	leftoverSocket(t, quiet)

	live := controlSockets(dir, "")
	if len(live) != 1 || socketPID(live[0]) != os.Getpid() || !strings.HasPrefix(filepath.Base(live[0]), socketPrefix("/mnt/a")) {
		t.Fatalf("live sockets %v", live)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("the dead process's socket is still there")
	}
	if _, err := os.Stat(quiet); err != nil {
		t.Errorf("the socket of a live process was removed: %v", err)
	}
	st, err := queryMounts(t.Context(), dir, "/mnt/a", io.Discard)
	if err != nil || len(st.Mounts) != 1 || st.Mounts[0].Name != "x" || len(st.Mountpoints) != 1 || st.Mountpoints[0].Torrents != 1 {
		t.Fatalf("status of /mnt/a: %+v, %v", st, err)
	}
	if _, err := queryMounts(t.Context(), dir, "/mnt/b", io.Discard); err == nil || !strings.Contains(err.Error(), "no btfs mount at /mnt/b") {
		t.Fatalf("status of a mountpoint nobody serves: %v", err)
	}
	cs.Close()
	if live := controlSockets(dir, ""); len(live) != 0 {
		t.Fatalf("after Close: %v", live)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 { // the quiet one
		t.Fatalf("after Close the directory holds %v", entries)
	}

	open := filepath.Join(t.TempDir(), "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777) // whatever the umask
	if err := makeRuntimeDir(open); err == nil {
		t.Fatalf("a directory anyone can write to was accepted")
	}
}

// statusSwarm is a tracker, a seeder and a mount, as processes, with the
// mount's runtime directory of its own.
type statusSwarm struct {
	work, src, mnt, torrent, runtime string
	env                              []string // XDG_RUNTIME_DIR for btfs status
	trackerMetrics, seedMetrics      string   // addresses, with metrics
	mountMetrics                     string
	mount                            *testproc.Proc
}

// startStatusSwarm starts the swarm and waits for the mount to answer on
// its control socket.
func startStatusSwarm(t *testing.T, metrics bool) *statusSwarm {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
	s := &statusSwarm{work: t.TempDir()}
	s.src = filepath.Join(s.work, "src", "show")
	s.mnt = filepath.Join(s.work, "mnt")
	s.torrent = filepath.Join(s.work, "show.torrent")
	s.runtime = filepath.Join(s.work, "run")
	s.env = []string{"XDG_RUNTIME_DIR=" + s.runtime}
	for name, size := range map[string]int{"episode.mkv": 2<<20 + 12345, "subs.srt": 300000, "notes.txt": 12} {
		data := make([]byte, size)
		rand.Read(data)
		p := filepath.Join(s.src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(s.mnt, 0o755)
	withMetrics := func(addr *string, args ...string) []string {
		if !metrics {
			return args
		}
		*addr = fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(t))
		return append([]string{args[0], "--metrics", *addr}, args[1:]...) // flags before arguments
	}
	trackerAddr := fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(t))
	testproc.StartEnv(t, s.env, s.work, btfsBin, withMetrics(&s.trackerMetrics, "tracker", "--listen", trackerAddr, "--udp", "", "--interval", "1m")...)
	waitListening(t, trackerAddr)
	s.run(t, "create", "-t", "http://"+trackerAddr+"/announce", "-l", "64KiB", "-o", s.torrent, s.src)
	seedPort := testproc.FreePort(t)
	testproc.StartEnv(t, s.env, s.work, btfsBin, withMetrics(&s.seedMetrics, "seed", "--no-dht", "--listen", "127.0.0.1", "--port", fmt.Sprint(seedPort),
		"-d", filepath.Join(s.work, "src"), s.torrent)...)
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", seedPort))
	s.mount = testproc.StartEnv(t, s.env, s.work, btfsBin, withMetrics(&s.mountMetrics, "mount", "--no-dht", "--listen", "127.0.0.1", "--port", "0",
		"--cache-dir", filepath.Join(s.work, "cache"), s.torrent, s.mnt)...)
	wait.For(t, "the mount's control socket", 20*time.Second, func() bool {
		_, ok := s.status(t)
		return ok
	})
	return s
}

// status asks the mount for its status in-process, as btfs status does.
func (s *statusSwarm) status(t *testing.T) (mountStatus, bool) {
	st, err := queryMounts(t.Context(), filepath.Join(s.runtime, "btfs"), s.mnt, io.Discard)
	if err != nil || len(st.Mounts) != 1 {
		return mountStatus{}, false
	}
	return st.Mounts[0], true
}

// run runs btfs as a process, with the swarm's runtime directory, and
// returns its standard output; it fails the test if btfs fails. (The
// in-process btfs() would race with the other parallel tests on urfave/cli's
// global flags.)
func (s *statusSwarm) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(btfsBin, args...)
	cmd.Env = append(os.Environ(), s.env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("btfs %q: %v: %s", args, err, stderr.String())
	}
	return string(out)
}

// btfs status --json against a live mount: the torrent, one seeder, the
// tracker's answer; progress and the piece map move after a read; an open
// file shows with its position; stale sockets are ignored and removed; the
// socket goes when the mount does.
func TestStatusJSON(t *testing.T) {
	t.Parallel()
	s := startStatusSwarm(t, false)
	var before mountStatus
	wait.For(t, "the mount to connect to the seeder", 20*time.Second, func() bool {
		ms, ok := s.status(t)
		before = ms
		return ok && ms.Peers.Connected == 1 && ms.Peers.Seeders == 1 && ms.Tracker != nil && ms.Tracker.Announced >= 1
	})
	if before.Name != "show" || before.Mountpoint != s.mnt || before.PID != s.mount.Pid() ||
		before.Pieces == 0 || before.PiecesVerified != 0 || before.BytesVerified != 0 ||
		strings.TrimSpace(before.PieceMap) != "" || len(before.PieceMap) != min(before.Pieces, pieceMapWidth) ||
		before.Tracker.Error != "" || !strings.Contains(before.Tracker.URL, "/announce") || before.Tracker.LastAnnounce == nil ||
		before.Cache.Bound <= 0 || before.Cache.Dir != filepath.Join(s.work, "cache") || len(before.OpenFiles) != 0 {
		t.Fatalf("before any read: %+v", before)
	}

	episode := filepath.Join(s.mnt, "show", "episode.mkv")
	if got, want := sha1File(t, episode), sha1File(t, filepath.Join(s.src, "episode.mkv")); got != want {
		t.Fatalf("episode.mkv through the mount: sha1 %s, want %s", got, want)
	}
	// A read returns once its pieces are verified, a moment before they are
	// stored and counted (fetch/landing.go).
	const episodeLen = 2<<20 + 12345
	var after mountStatus
	wait.For(t, "the pieces read to be stored", 20*time.Second, func() bool {
		ms, ok := s.status(t)
		after = ms
		return ok && after.BytesVerified >= episodeLen
	})
	if after.PiecesVerified <= before.PiecesVerified || after.BytesVerified < episodeLen || after.PiecesFailed != 0 ||
		!strings.Contains(after.PieceMap, "#") || after.Downloaded < episodeLen ||
		after.Cache.TorrentPieces != after.PiecesVerified || after.Cache.TorrentBytes != after.BytesVerified ||
		after.Cache.Live < after.Cache.TorrentBytes || after.Cache.Misses == 0 ||
		after.Peers.Connected != 1 || after.Peers.Seeders != 1 || after.Peers.ChokedByUs != 1 {
		t.Fatalf("after reading episode.mkv: %+v", after)
	}

	// An open file shows with where it reads.
	f, err := os.Open(filepath.Join(s.mnt, "show", "subs.srt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	ms, _ := s.status(t)
	if len(ms.OpenFiles) != 1 || ms.OpenFiles[0].Path != "show/subs.srt" || ms.OpenFiles[0].Position < 1000 {
		t.Fatalf("open files: %+v", ms.OpenFiles)
	}
	f.Close()
	wait.For(t, "the closed file to leave the list", 10*time.Second, func() bool {
		ms, ok := s.status(t)
		return ok && len(ms.OpenFiles) == 0
	})

	// The command, all mounts, with a dead mount's socket lying around.
	sockDir := filepath.Join(s.runtime, "btfs")
	stale := filepath.Join(sockDir, socketPrefix("/nowhere")+strconv.Itoa(deadPID(t))+".sock")
	leftoverSocket(t, stale)
	var all statusJSON
	if err := json.Unmarshal([]byte(s.run(t, "status", "--json")), &all); err != nil {
		t.Fatal(err)
	}
	if len(all.Mounts) != 1 || all.Mounts[0].Name != "show" || all.Mounts[0].InfoHash != before.InfoHash || len(before.InfoHash) != 40 {
		t.Fatalf("btfs status --json: %+v", all)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Fatalf("btfs status left the dead mount's socket")
	}
	text := s.run(t, "status", s.mnt)
	for _, want := range []string{"show  " + before.InfoHash, "mounted at  " + s.mnt, "1 connected (1 seeder)", "[#"} {
		if !strings.Contains(text, want) {
			t.Errorf("btfs status %s: no %q in\n%s", s.mnt, want, text)
		}
	}

	// --watch prints a fresh status every second until interrupted.
	watch := testproc.StartEnv(t, s.env, s.work, btfsBin, "status", "--watch", "--json", s.mnt)
	wait.For(t, "two refreshes", 10*time.Second, func() bool { return strings.Count(watch.Output(), "\n") >= 2 })
	watch.Stop()
	if watch.Err() != nil {
		t.Fatalf("status --watch ended with %v", watch.Err())
	}
	sc := bufio.NewScanner(strings.NewReader(watch.Output()))
	for sc.Scan() {
		var one statusJSON
		if err := json.Unmarshal(sc.Bytes(), &one); err != nil || len(one.Mounts) != 1 {
			t.Fatalf("--watch --json line %q: %v", sc.Text(), err)
		}
	}

	s.run(t, "unmount", s.mnt)
	if err := s.mount.Wait(t, 20*time.Second); err != nil {
		t.Fatalf("mount exited with %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(sockDir, "*.sock")); len(left) != 0 {
		t.Fatalf("sockets left after the mount exited: %v", left)
	}
}

// scrape reads a Prometheus text exposition: the value of every series,
// by its name and labels as written.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	series := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		series[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return series
}

// family sums the series of one metric name; n is how many there are.
func family(series map[string]float64, name string) (sum float64, n int) {
	for k, v := range series {
		if k == name || strings.HasPrefix(k, name+"{") {
			sum += v
			n++
		}
	}
	return sum, n
}

// --metrics on mount, seed and tracker: after a read through the mount,
// each exposes its families with values that add up.
func TestMetricsScrape(t *testing.T) {
	t.Parallel()
	s := startStatusSwarm(t, true)
	wait.For(t, "the mount to connect to the seeder", 20*time.Second, func() bool {
		ms, ok := s.status(t)
		return ok && ms.Peers.Connected == 1
	})
	const episodeLen = 2<<20 + 12345
	if got, want := sha1File(t, filepath.Join(s.mnt, "show", "episode.mkv")), sha1File(t, filepath.Join(s.src, "episode.mkv")); got != want {
		t.Fatalf("episode.mkv through the mount: sha1 %s, want %s", got, want)
	}

	m := scrape(t, s.mountMetrics)
	check := func(who string, series map[string]float64, name string, ok func(v float64) bool) {
		t.Helper()
		v, n := family(series, name)
		if n == 0 || !ok(v) {
			t.Errorf("%s: %s = %v (%d series)", who, name, v, n)
		}
	}
	positive := func(v float64) bool { return v > 0 }
	check("mount", m, "btfs_downloaded_bytes_total", func(v float64) bool { return v >= episodeLen })
	check("mount", m, "btfs_uploaded_bytes_total", func(v float64) bool { return v == 0 })
	check("mount", m, "btfs_pieces_verified_total", func(v float64) bool { return v*(64<<10) >= episodeLen })
	check("mount", m, "btfs_pieces_failed_total", func(v float64) bool { return v == 0 })
	check("mount", m, "btfs_peers", func(v float64) bool { return v == 1 })
	check("mount", m, "btfs_read_duration_seconds_count", positive)
	check("mount", m, "btfs_read_duration_seconds_sum", positive)
	check("mount", m, "btfs_read_duration_seconds_bucket", positive)
	check("mount", m, "btfs_cache_misses_total", positive)
	check("mount", m, "btfs_cache_hits_total", func(v float64) bool { return v >= 0 })
	check("mount", m, "btfs_cache_bytes", func(v float64) bool { return v >= episodeLen })
	check("mount", m, "btfs_announces_sent_total", positive)
	for k, v := range m {
		if strings.HasPrefix(k, "btfs_announces_sent_total{") && strings.Contains(k, `result="failed"`) && v != 0 {
			t.Errorf("mount: %s = %v", k, v)
		}
	}
	if v := m[`btfs_read_duration_seconds_bucket{le="+Inf"}`]; v != m["btfs_read_duration_seconds_count"] {
		t.Errorf("mount: the +Inf bucket holds %v reads, the count is %v", v, m["btfs_read_duration_seconds_count"])
	}
	if _, n := family(m, "go_goroutines"); n != 1 {
		t.Errorf("mount: no Go runtime metrics")
	}

	sd := scrape(t, s.seedMetrics)
	check("seed", sd, "btfs_uploaded_bytes_total", func(v float64) bool { return v >= episodeLen })
	check("seed", sd, "btfs_peers", func(v float64) bool { return v == 1 })
	check("seed", sd, "btfs_pieces_have", positive)

	tr := scrape(t, s.trackerMetrics)
	if v := tr[`btfs_tracker_announces_total{protocol="http"}`]; v < 2 {
		t.Errorf("tracker: %v HTTP announces, want the seeder's and the mount's", v)
	}
	if v, ok := tr[`btfs_tracker_announces_total{protocol="udp"}`]; !ok || v != 0 {
		t.Errorf("tracker: UDP announces %v (present %v), want 0", v, ok)
	}
	if tr[`btfs_tracker_peers{role="seeder"}`] != 1 || tr[`btfs_tracker_peers{role="leecher"}`] != 1 || tr["btfs_tracker_torrents"] != 1 {
		t.Errorf("tracker peers: %v seeders, %v leechers, %v torrents", tr[`btfs_tracker_peers{role="seeder"}`],
			tr[`btfs_tracker_peers{role="leecher"}`], tr["btfs_tracker_torrents"])
	}
}
