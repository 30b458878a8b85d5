package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/btfs/btfs/cache"
	"github.com/btfs/btfs/fs"
	"github.com/btfs/btfs/internal/bitfield"
	"github.com/btfs/btfs/internal/bytesize"
	"github.com/btfs/btfs/session"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// pieceMapWidth is the characters of a piece map: narrow enough for an
// 80-column terminal beside its label.
const pieceMapWidth = 64

// mountStatus is one torrent of a mount, as its control socket reports it
// (GET /status), and one element of "mounts" in btfs status --json. The field names are
// part of the CLI's contract.
type mountStatus struct {
	PID            int       `json:"pid"`
	Name           string    `json:"name"`
	InfoHash       string    `json:"info_hash"`
	Mountpoint     string    `json:"mountpoint"`
	Started        time.Time `json:"started"`
	Pieces         int       `json:"pieces"`
	PiecesVerified int       `json:"pieces_verified"` // held, verified
	PiecesFailed   int64     `json:"pieces_failed"`   // hash checks failed since the start
	Length         int64     `json:"length"`
	BytesVerified  int64     `json:"bytes_verified"`
	// PieceMap has one character per bucket of pieces, in order: ' ' none
	// of its pieces held, '.' some, '#' all.
	PieceMap     string           `json:"piece_map"`
	Downloaded   int64            `json:"downloaded"` // bytes, since the start
	Uploaded     int64            `json:"uploaded"`
	DownloadRate float64          `json:"download_rate"` // bytes/s
	UploadRate   float64          `json:"upload_rate"`
	Peers        peersStatus      `json:"peers"`
	Tracker      *trackerStatus   `json:"tracker"` // null for a torrent without trackers
	Cache        cacheStatus      `json:"cache"`
	OpenFiles    []openFileStatus `json:"open_files"`
	// State is "active" (in its swarm), "parked" (not: the next open of
	// one of its files rejoins) or "resolving" (a magnet link's metadata
	// is being fetched).
	State string `json:"state"`
}

type peersStatus struct {
	Connected  int          `json:"connected"`
	Seeders    int          `json:"seeders"`
	ChokingUs  int          `json:"choking_us"`
	ChokedByUs int          `json:"choked_by_us"`
	Known      int          `json:"known"` // addresses heard of
	TCP        int          `json:"tcp"`   // connected, by transport
	UTP        int          `json:"utp"`
	Encrypted  int          `json:"encrypted"` // connected over RC4 (MSE)
	List       []peerStatus `json:"list"`      // every connected peer, by address
}

// peerStatus is one connected peer.
type peerStatus struct {
	Addr         string  `json:"addr"`
	Transport    string  `json:"transport"` // "tcp" or "utp"
	Encrypted    bool    `json:"encrypted"`
	Incoming     bool    `json:"incoming"`
	DownloadRate float64 `json:"download_rate"` // bytes/s
	UploadRate   float64 `json:"upload_rate"`
}

type trackerStatus struct {
	URL          string     `json:"url"`           // the tracker that answered last
	LastAnnounce *time.Time `json:"last_announce"` // of the last success; null before one
	NextAnnounce *time.Time `json:"next_announce"`
	Seeders      int        `json:"seeders"`
	Leechers     int        `json:"leechers"`
	Announced    int        `json:"announced"` // rounds answered
	Failed       int        `json:"failed"`    // rounds every tracker failed
	Error        string     `json:"error"`     // why the last round failed; "" after a success
	Warning      string     `json:"warning"`
}

type cacheStatus struct {
	Dir           string `json:"dir"`
	Live          int64  `json:"live"`  // bytes of pieces stored, all torrents
	Disk          int64  `json:"disk"`  // the directory's size on disk
	Bound         int64  `json:"bound"` // --cache-size
	TorrentPieces int    `json:"torrent_pieces"`
	TorrentBytes  int64  `json:"torrent_bytes"`
	Hits          int64  `json:"hits"`   // piece reads served at once
	Misses        int64  `json:"misses"` // piece reads that waited for the network
}

type openFileStatus struct {
	Path      string `json:"path"`      // under the mountpoint
	Position  int64  `json:"position"`  // where a sequential read continues
	Readahead int64  `json:"readahead"` // bytes past it being fetched
}

// mountSummary is one line per mount in btfs status, and an element of
// "mountpoints" in --json.
type mountSummary struct {
	Mountpoint string    `json:"mountpoint"`
	PID        int       `json:"pid"` // of the command that mounted it
	Started    time.Time `json:"started"`
	Torrents   int       `json:"torrents"`
	Active     int       `json:"active"` // in their swarm; the others are parked
	OpenFiles  int       `json:"open_files"`
}

// controlStatus is a mount's answer to GET /status: the summary and each
// of its torrents, the active ones first.
type controlStatus struct {
	Mount    mountSummary  `json:"mount"`
	Torrents []mountStatus `json:"torrents"`
}

// mountView gathers a mount's status from the session.
type mountView struct {
	m        *session.Mount
	pid      int // the mount command's
	cache    *cache.Cache
	cacheDir string
}

func (v *mountView) status(ctx context.Context) (controlStatus, error) {
	files := v.m.OpenFiles()
	cs := controlStatus{Mount: mountSummary{Mountpoint: v.m.Mountpoint(), PID: v.pid, Started: v.m.Started(),
		OpenFiles: len(files)}, Torrents: []mountStatus{}}
	usage := v.cache.Usage()
	held := map[string]cache.TorrentUsage{}
	for _, tu := range v.cache.List() {
		held[tu.Hash.String()] = tu
	}
	for _, t := range v.m.Torrents() {
		ms, err := v.torrentStatus(ctx, t, files)
		if err != nil {
			return cs, err
		}
		ms.Cache = cacheStatus{Dir: v.cacheDir, Live: usage.Live, Disk: usage.Disk, Bound: usage.MaxSize,
			Hits: ms.Cache.Hits, Misses: ms.Cache.Misses}
		if tu, ok := held[t.Key()]; ok {
			ms.Cache.TorrentPieces, ms.Cache.TorrentBytes = tu.Pieces, tu.Bytes
		}
		cs.Mount.Torrents++
		if ms.State == "active" {
			cs.Mount.Active++
		}
		cs.Torrents = append(cs.Torrents, ms)
	}
	return cs, nil
}

// torrentStatus is one torrent of the mount: its engine's stats while
// active, what the cache holds while parked.
func (v *mountView) torrentStatus(ctx context.Context, t *session.Torrent, files []fs.OpenFile) (mountStatus, error) {
	ms := mountStatus{PID: v.pid, Name: t.Name(), InfoHash: t.Key(), Mountpoint: v.m.Mountpoint(), Started: v.m.Started(),
		State: "parked", OpenFiles: []openFileStatus{}}
	mi := t.MetaInfo()
	if mi == nil {
		ms.State = "resolving"
		return ms, nil
	}
	for _, f := range files {
		if f.Path == mi.Info.Name || strings.HasPrefix(f.Path, mi.Info.Name+"/") {
			ms.OpenFiles = append(ms.OpenFiles, openFileStatus{Path: f.Path, Position: f.Pos, Readahead: f.Readahead})
		}
	}
	have := t.Have()
	ms.Pieces, ms.PiecesVerified, ms.Length = mi.Info.NumPieces(), have.Count(), mi.Info.Length
	ms.PieceMap = pieceMap(have, pieceMapWidth)
	for i := range ms.Pieces {
		if have.Has(i) {
			ms.BytesVerified += mi.Info.PieceSize(i)
		}
	}
	e := t.Engine()
	if e == nil {
		return ms, nil
	}
	st, err := e.Stats(ctx)
	if err != nil {
		return ms, nil // parked while we asked
	}
	ms.State = "active"
	ms.PiecesVerified, ms.PiecesFailed, ms.BytesVerified = st.Have, st.Failed, st.Length-st.Left
	ms.PieceMap = pieceMap(e.HaveBitfield(), pieceMapWidth)
	ms.Downloaded, ms.Uploaded, ms.DownloadRate, ms.UploadRate = st.Downloaded, st.Uploaded, st.DownRate, st.UpRate
	ms.Peers = peersStatus{Connected: st.Peers, Seeders: st.Seeders, ChokingUs: st.ChokingUs, ChokedByUs: st.Choked, Known: st.Candidates}
	ms.Cache.Hits, ms.Cache.Misses = st.CacheHits, st.CacheMisses
	if st.Announcing {
		a := st.Tracker
		ts := &trackerStatus{URL: a.Tracker, Seeders: a.Seeders, Leechers: a.Leechers,
			Announced: a.Announced, Failed: a.Failed, Warning: a.Warning}
		if !a.LastAnnounce.IsZero() {
			ts.LastAnnounce = &a.LastAnnounce
		}
		if !a.NextAnnounce.IsZero() {
			ts.NextAnnounce = &a.NextAnnounce
		}
		if a.Err != nil {
			ts.Error = a.Err.Error()
		}
		ms.Tracker = ts
	}
	return ms, nil
}

// ServeHTTP answers GET /status.
func (v *mountView) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/status" {
		http.NotFound(w, r)
		return
	}
	cs, err := v.status(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(cs)
}

// pieceMap draws have in width characters (fewer for fewer pieces), each a
// bucket of consecutive pieces: ' ' none held, '.' some, '#' all.
func pieceMap(have bitfield.Bitfield, width int) string {
	n := have.Len()
	width = min(width, n)
	var b strings.Builder
	for i := range width {
		first, end := i*n/width, (i+1)*n/width
		held := 0
		for p := first; p < end; p++ {
			if have.Has(p) {
				held++
			}
		}
		switch held {
		case 0:
			b.WriteByte(' ')
		case end - first:
			b.WriteByte('#')
		default:
			b.WriteByte('.')
		}
	}
	return b.String()
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show what running mounts are doing",
		ArgsUsage: "[MOUNTPOINT]",
		Description: "Asks every running 'btfs mount' (or the one at MOUNTPOINT) over its control socket in\n" +
			"$XDG_RUNTIME_DIR/btfs (else /run/btfs as root, else $TMPDIR/btfs-UID) and shows the torrent,\n" +
			"its progress and piece map (' ' none, '.' some, '#' all of the pieces under a character),\n" +
			"transfer rates, peers, the tracker's last answer, the cache and the open files with their\n" +
			"readahead. --json prints {\"mounts\": [...]} for scripts; --watch refreshes every second.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON (with --watch: one line per refresh)"},
			&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "refresh every second until interrupted"},
		},
		Action: runStatus,
	}
}

// statusJSON is the --json output: every torrent of every mount (the
// active ones first), and a summary per mount.
type statusJSON struct {
	Mounts      []mountStatus  `json:"mounts"`
	Mountpoints []mountSummary `json:"mountpoints"`
}

func runStatus(c *cli.Context) error {
	if c.NArg() > 1 {
		return usagef(c, "status takes at most one MOUNTPOINT")
	}
	mountpoint := c.Args().First()
	out := c.App.Writer
	if !c.Bool("watch") {
		st, err := queryMounts(c.Context, runtimeDir(), mountpoint, c.App.ErrWriter)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return writeJSON(out, st)
		}
		printStatus(out, st, time.Now())
		return nil
	}
	f, ok := out.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		st, err := queryMounts(c.Context, runtimeDir(), mountpoint, c.App.ErrWriter)
		if c.Context.Err() != nil {
			return nil // interrupted: the way out of --watch
		}
		switch {
		case c.Bool("json"):
			if err == nil {
				json.NewEncoder(out).Encode(st)
			}
		default:
			if tty {
				fmt.Fprint(out, "\x1b[H\x1b[2J")
			} else {
				fmt.Fprintln(out)
			}
			if err == nil {
				printStatus(out, st, time.Now())
			}
		}
		if err != nil {
			fmt.Fprintf(c.App.ErrWriter, "btfs: %v\n", err)
		}
		select {
		case <-c.Context.Done():
			return nil
		case <-tick.C:
		}
	}
}

// queryMounts asks the mounts with a socket in dir (those at mountpoint, if
// not empty) for their status. A mount that does not answer is reported on
// errw and left out; naming a mountpoint that none serves is an error.
func queryMounts(ctx context.Context, dir, mountpoint string, errw io.Writer) (statusJSON, error) {
	st := statusJSON{Mounts: []mountStatus{}, Mountpoints: []mountSummary{}}
	for _, path := range controlSockets(dir, mountpoint) {
		cs, err := queryMount(ctx, path)
		if err != nil {
			if ctx.Err() != nil {
				return st, ctx.Err()
			}
			fmt.Fprintf(errw, "btfs: mount served by pid %d does not answer: %v\n", socketPID(path), err)
			continue
		}
		if mountpoint != "" && cs.Mount.Mountpoint != absPath(mountpoint) {
			continue
		}
		st.Mountpoints = append(st.Mountpoints, cs.Mount)
		st.Mounts = append(st.Mounts, cs.Torrents...)
	}
	if mountpoint != "" && len(st.Mountpoints) == 0 {
		return st, fmt.Errorf("no btfs mount at %s ('btfs status' lists the running ones)", mountpoint)
	}
	slices.SortFunc(st.Mountpoints, func(a, b mountSummary) int { return strings.Compare(a.Mountpoint, b.Mountpoint) })
	slices.SortStableFunc(st.Mounts, func(a, b mountStatus) int {
		if (a.State == "active") != (b.State == "active") {
			if a.State == "active" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Mountpoint, b.Mountpoint)
	})
	return st, nil
}

func queryMount(ctx context.Context, path string) (controlStatus, error) {
	var cs controlStatus
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://btfs/status", nil)
	if err != nil {
		return cs, err
	}
	resp, err := controlClient(path).Do(req)
	if err != nil {
		return cs, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusBytes))
	if err != nil {
		return cs, err
	}
	if resp.StatusCode != http.StatusOK {
		return cs, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &cs); err != nil {
		return cs, errors.New("unreadable answer: " + err.Error())
	}
	return cs, nil
}

// maxStatusBytes bounds a mount's answer: about 2 KiB per torrent, for a
// library of thousands.
const maxStatusBytes = 64 << 20

// printSummaries writes one line per mount.
func printSummaries(w io.Writer, mps []mountSummary, now time.Time) {
	for _, m := range mps {
		fmt.Fprintf(w, "%s (pid %d, up %s): %s, %d active, %s\n", m.Mountpoint, m.PID, roundDuration(now.Sub(m.Started)),
			plural(m.Torrents, "torrent"), m.Active, plural(m.OpenFiles, "open file"))
	}
}

// printStatus writes the mounts for people: a line per mount, then each
// torrent, the active ones first.
func printStatus(w io.Writer, st statusJSON, now time.Time) {
	if len(st.Mountpoints) == 0 {
		fmt.Fprintln(w, "no btfs mounts running")
		return
	}
	printSummaries(w, st.Mountpoints, now)
	for _, m := range st.Mounts {
		fmt.Fprintln(w)
		line := func(label, format string, args ...any) {
			fmt.Fprintf(w, "  %-11s %s\n", label, fmt.Sprintf(format, args...))
		}
		fmt.Fprintf(w, "%s  %s\n", m.Name, m.InfoHash)
		line("mounted at", "%s (pid %d, up %s)", m.Mountpoint, m.PID, roundDuration(now.Sub(m.Started)))
		if m.State != "active" {
			line("state", "%s", stateLine(m.State))
		}
		pct := 100.0
		if m.Length > 0 {
			pct = 100 * float64(m.BytesVerified) / float64(m.Length)
		}
		line("progress", "%d/%d pieces, %s of %s (%.1f%%)", m.PiecesVerified, m.Pieces,
			bytesize.Format(m.BytesVerified), bytesize.Format(m.Length), pct)
		if m.PiecesFailed > 0 {
			line("", "%s failed the hash check and were fetched again", plural(int(m.PiecesFailed), "piece"))
		}
		line("pieces", "[%s]", m.PieceMap)
		line("transfer", "down %s/s (%s in all), up %s/s (%s)", bytesize.Format(int64(m.DownloadRate)),
			bytesize.Format(m.Downloaded), bytesize.Format(int64(m.UploadRate)), bytesize.Format(m.Uploaded))
		p := m.Peers
		line("peers", "%d connected (%s); %d choking us, %d choked by us; %s known",
			p.Connected, plural(p.Seeders, "seeder"), p.ChokingUs, p.ChokedByUs, plural(p.Known, "address"))
		line("", "%d over TCP, %d over uTP; %d encrypted", p.TCP, p.UTP, p.Encrypted)
		for _, pe := range p.List {
			line("", "%s", peerLine(pe))
		}
		line("tracker", "%s", trackerLine(m.Tracker, now))
		if m.Tracker != nil && m.Tracker.Error != "" {
			line("", "last error: %s", m.Tracker.Error)
		}
		cs := m.Cache
		line("cache", "%s in %d pieces of this torrent; %s of %s used in %s (%s on disk); %d hits, %d misses",
			bytesize.Format(cs.TorrentBytes), cs.TorrentPieces, bytesize.Format(cs.Live), bytesize.Format(cs.Bound),
			cs.Dir, bytesize.Format(cs.Disk), cs.Hits, cs.Misses)
		if len(m.OpenFiles) == 0 {
			line("open files", "none")
		}
		for j, f := range m.OpenFiles {
			label := ""
			if j == 0 {
				label = "open files"
			}
			line(label, "%s at %s, %s ahead being fetched", f.Path, bytesize.Format(f.Position), bytesize.Format(f.Readahead))
		}
	}
}

func stateLine(state string) string {
	switch state {
	case "parked":
		return "parked: out of its swarm until one of its files is opened"
	case "resolving":
		return "fetching the metadata"
	}
	return state
}

func trackerLine(t *trackerStatus, now time.Time) string {
	if t == nil {
		return "none (the torrent names no tracker)"
	}
	var s string
	switch {
	case t.LastAnnounce == nil && t.Failed == 0:
		s = "announcing..."
	case t.LastAnnounce == nil:
		s = fmt.Sprintf("no tracker answered (%d tries)", t.Failed)
	default:
		s = fmt.Sprintf("%s: %s, %s; last answer %s ago", t.URL, plural(t.Seeders, "seeder"), plural(t.Leechers, "leecher"),
			roundDuration(now.Sub(*t.LastAnnounce)))
	}
	if t.NextAnnounce != nil {
		s += fmt.Sprintf("; next in %s", roundDuration(t.NextAnnounce.Sub(now)))
	}
	if t.Warning != "" {
		s += "; warning: " + t.Warning
	}
	return s
}

// plural says "1 seeder", "2 seeders", "3 addresses".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "s") {
		return fmt.Sprintf("%d %ses", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// roundDuration shows d to the second, never negative.
func roundDuration(d time.Duration) time.Duration {
	return max(d, 0).Round(time.Second)
}
