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
	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/fs"
	"github.com/btfs/btfs/internal/bitfield"
	"github.com/btfs/btfs/internal/bytesize"
	"github.com/btfs/btfs/metainfo"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// pieceMapWidth is the characters of a piece map: narrow enough for an
// 80-column terminal beside its label.
const pieceMapWidth = 64

// mountStatus is what a mount reports on its control socket (GET /status),
// and one element of "mounts" in btfs status --json. The field names are
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

// statusSource gathers a mount's status from its parts.
type statusSource struct {
	mi         *metainfo.MetaInfo
	mountpoint string
	started    time.Time
	t          *fetch.Torrent
	cache      *cache.Cache
	cacheDir   string
	files      func() []fs.OpenFile // the mount's, once it is up
}

func (s *statusSource) status(ctx context.Context) (mountStatus, error) {
	st, err := s.t.Stats(ctx)
	if err != nil {
		return mountStatus{}, err
	}
	ms := mountStatus{
		PID: os.Getpid(), Name: s.mi.Info.Name, InfoHash: s.mi.InfoHash.String(), Mountpoint: s.mountpoint,
		Started: s.started, Pieces: st.Pieces, PiecesVerified: st.Have, PiecesFailed: st.Failed,
		Length: st.Length, BytesVerified: st.Length - st.Left,
		PieceMap:   pieceMap(s.t.HaveBitfield(), pieceMapWidth),
		Downloaded: st.Downloaded, Uploaded: st.Uploaded, DownloadRate: st.DownRate, UploadRate: st.UpRate,
		Peers:     peersOf(st),
		OpenFiles: []openFileStatus{},
	}
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
	u := s.cache.Usage()
	ms.Cache = cacheStatus{Dir: s.cacheDir, Live: u.Live, Disk: u.Disk, Bound: u.MaxSize, Hits: st.CacheHits, Misses: st.CacheMisses}
	for _, tu := range s.cache.List() {
		if tu.Hash == s.mi.InfoHash {
			ms.Cache.TorrentPieces, ms.Cache.TorrentBytes = tu.Pieces, tu.Bytes
		}
	}
	if s.files != nil {
		for _, f := range s.files() {
			ms.OpenFiles = append(ms.OpenFiles, openFileStatus{Path: f.Path, Position: f.Pos, Readahead: f.Readahead})
		}
	}
	return ms, nil
}

// ServeHTTP answers GET /status.
func (s *statusSource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/status" {
		http.NotFound(w, r)
		return
	}
	ms, err := s.status(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ms)
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

// statusJSON is the --json output.
type statusJSON struct {
	Mounts []mountStatus `json:"mounts"`
}

func runStatus(c *cli.Context) error {
	if c.NArg() > 1 {
		return usagef(c, "status takes at most one MOUNTPOINT")
	}
	mountpoint := c.Args().First()
	out := c.App.Writer
	if !c.Bool("watch") {
		mounts, err := queryMounts(c.Context, runtimeDir(), mountpoint, c.App.ErrWriter)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return writeJSON(out, statusJSON{Mounts: mounts})
		}
		printStatus(out, mounts, time.Now())
		return nil
	}
	f, ok := out.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		mounts, err := queryMounts(c.Context, runtimeDir(), mountpoint, c.App.ErrWriter)
		if c.Context.Err() != nil {
			return nil // interrupted: the way out of --watch
		}
		switch {
		case c.Bool("json"):
			if err == nil {
				json.NewEncoder(out).Encode(statusJSON{Mounts: mounts})
			}
		default:
			if tty {
				fmt.Fprint(out, "\x1b[H\x1b[2J")
			} else {
				fmt.Fprintln(out)
			}
			if err == nil {
				printStatus(out, mounts, time.Now())
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
func queryMounts(ctx context.Context, dir, mountpoint string, errw io.Writer) ([]mountStatus, error) {
	mounts := []mountStatus{}
	for _, path := range controlSockets(dir, mountpoint) {
		ms, err := queryMount(ctx, path)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			fmt.Fprintf(errw, "btfs: mount with pid %d does not answer: %v\n", socketPID(path), err)
			continue
		}
		if mountpoint != "" && ms.Mountpoint != absPath(mountpoint) {
			continue
		}
		mounts = append(mounts, ms)
	}
	if mountpoint != "" && len(mounts) == 0 {
		return nil, fmt.Errorf("no btfs mount at %s ('btfs status' lists the running ones)", mountpoint)
	}
	slices.SortFunc(mounts, func(a, b mountStatus) int { return strings.Compare(a.Mountpoint, b.Mountpoint) })
	return mounts, nil
}

func queryMount(ctx context.Context, path string) (mountStatus, error) {
	var ms mountStatus
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://btfs/status", nil)
	if err != nil {
		return ms, err
	}
	resp, err := controlClient(path).Do(req)
	if err != nil {
		return ms, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return ms, err
	}
	if resp.StatusCode != http.StatusOK {
		return ms, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &ms); err != nil {
		return ms, errors.New("unreadable answer: " + err.Error())
	}
	return ms, nil
}

// printStatus writes mounts for people.
func printStatus(w io.Writer, mounts []mountStatus, now time.Time) {
	if len(mounts) == 0 {
		fmt.Fprintln(w, "no btfs mounts running")
		return
	}
	for i, m := range mounts {
		if i > 0 {
			fmt.Fprintln(w)
		}
		line := func(label, format string, args ...any) {
			fmt.Fprintf(w, "  %-11s %s\n", label, fmt.Sprintf(format, args...))
		}
		fmt.Fprintf(w, "%s  %s\n", m.Name, m.InfoHash)
		line("mounted at", "%s (pid %d, up %s)", m.Mountpoint, m.PID, roundDuration(now.Sub(m.Started)))
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
