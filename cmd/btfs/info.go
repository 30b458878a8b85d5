package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/internal/bytesize"
	"github.com/btfs/btfs/magnet"
	"github.com/btfs/btfs/metainfo"
	"github.com/urfave/cli/v2"
)

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:      "info",
		Usage:     "show what a .torrent file (or a magnet link) holds",
		ArgsUsage: "FILE.torrent|MAGNET",
		Description: "Prints the torrent's name, info-hash (lowercase hex), piece length and count, total size,\n" +
			"trackers by tier, web seeds, flags, and its files as a tree. Pad files (BEP 47) are not listed.\n" +
			"With --json, the same as one JSON object for scripts.\n\n" +
			"For a magnet link, the metadata is fetched first from the link's peers (x.pe) and the peers its\n" +
			"trackers (tr) and the DHT name, trying again until it comes or --metadata-timeout passes (the\n" +
			"DHT node keeps no routing table: see 'btfs help mount'; --no-dht goes without it).",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			metadataTimeoutFlag(),
		}, dhtFlags()...),
		Action: runInfo,
	}
}

// infoJSON is the --json form; field names are part of the CLI's contract.
type infoJSON struct {
	Name         string     `json:"name"`
	InfoHash     string     `json:"info_hash"`
	PieceLength  int64      `json:"piece_length"`
	Pieces       int        `json:"pieces"`
	Length       int64      `json:"length"`
	Private      bool       `json:"private"`
	MultiFile    bool       `json:"multi_file"`
	CreationDate *time.Time `json:"creation_date,omitempty"`
	CreatedBy    string     `json:"created_by,omitempty"`
	Comment      string     `json:"comment,omitempty"`
	Trackers     [][]string `json:"trackers"`
	WebSeeds     []string   `json:"web_seeds"`
	Files        []fileJSON `json:"files"`
}

type fileJSON struct {
	Path       string `json:"path"` // as mounted: below the torrent's name for multi-file torrents
	Length     int64  `json:"length"`
	Offset     int64  `json:"offset"`
	Symlink    string `json:"symlink,omitempty"`
	Executable bool   `json:"executable,omitempty"`
}

func runInfo(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef(c, "info needs exactly one FILE.torrent or MAGNET, got %d arguments", c.NArg())
	}
	mi, link, err := loadTorrentArg(c.Args().First())
	if err != nil {
		return err
	}
	if link != nil {
		if mi, err = magnetInfo(c, *link); err != nil {
			return err
		}
	}
	for _, w := range mi.Info.Warnings() {
		logger(c).Warn(w)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, toInfoJSON(mi))
	}
	return printInfo(c.App.Writer, mi)
}

// writeJSON prints v as indented JSON, the form of every command's --json.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func toInfoJSON(mi *metainfo.MetaInfo) infoJSON {
	j := infoJSON{
		Name: mi.Info.Name, InfoHash: mi.InfoHash.String(), PieceLength: mi.Info.PieceLength,
		Pieces: mi.Info.NumPieces(), Length: mi.Info.Length, Private: mi.Info.Private,
		MultiFile: mi.Info.MultiFile, CreatedBy: mi.CreatedBy, Comment: mi.Comment,
		Trackers: mi.Trackers, WebSeeds: mi.WebSeeds, Files: []fileJSON{},
	}
	if j.Trackers == nil {
		j.Trackers = [][]string{}
	}
	if j.WebSeeds == nil {
		j.WebSeeds = []string{}
	}
	if !mi.CreationDate.IsZero() {
		j.CreationDate = &mi.CreationDate
	}
	for i := range mi.Info.Files {
		f := &mi.Info.Files[i]
		if f.IsPad() {
			continue
		}
		fj := fileJSON{Path: mi.Info.DisplayPath(f), Length: f.Length, Offset: f.Offset, Executable: f.Attr&metainfo.AttrExecutable != 0}
		if f.IsSymlink() {
			fj.Symlink = strings.Join(f.SymlinkTarget, "/")
		}
		j.Files = append(j.Files, fj)
	}
	return j
}

func printInfo(w io.Writer, mi *metainfo.MetaInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	yesNo := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(tw, "Name:\t%s\n", mi.Info.Name)
	fmt.Fprintf(tw, "Info-hash:\t%s\n", mi.InfoHash)
	fmt.Fprintf(tw, "Size:\t%s (%d bytes)\n", bytesize.Format(mi.Info.Length), mi.Info.Length)
	fmt.Fprintf(tw, "Pieces:\t%d of %s (%d bytes)\n", mi.Info.NumPieces(), bytesize.Format(mi.Info.PieceLength), mi.Info.PieceLength)
	fmt.Fprintf(tw, "Private:\t%s\n", yesNo[mi.Info.Private])
	if !mi.CreationDate.IsZero() {
		fmt.Fprintf(tw, "Created:\t%s\n", mi.CreationDate.Format(time.RFC3339))
	}
	if mi.CreatedBy != "" {
		fmt.Fprintf(tw, "Created by:\t%s\n", mi.CreatedBy)
	}
	if mi.Comment != "" {
		fmt.Fprintf(tw, "Comment:\t%s\n", mi.Comment)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "Trackers:")
	if len(mi.Trackers) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for i, tier := range mi.Trackers {
		fmt.Fprintf(w, "  tier %d: %s\n", i+1, strings.Join(tier, ", "))
	}
	if len(mi.WebSeeds) > 0 {
		fmt.Fprintln(w, "Web seeds:")
		for _, s := range mi.WebSeeds {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	fmt.Fprintf(w, "Files (%d):\n", countVisible(mi))
	printTree(w, mi)
	return nil
}

func countVisible(mi *metainfo.MetaInfo) int {
	n := 0
	for i := range mi.Info.Files {
		if !mi.Info.Files[i].IsPad() {
			n++
		}
	}
	return n
}

// printTree lists files indented under their directories, in torrent order.
func printTree(w io.Writer, mi *metainfo.MetaInfo) {
	var open []string // directories printed so far, as a path stack
	for i := range mi.Info.Files {
		f := &mi.Info.Files[i]
		if f.IsPad() {
			continue
		}
		parts := strings.Split(mi.Info.DisplayPath(f), "/")
		dirs := parts[:len(parts)-1]
		common := 0
		for common < len(open) && common < len(dirs) && open[common] == dirs[common] {
			common++
		}
		open = open[:common]
		for _, d := range dirs[common:] {
			fmt.Fprintf(w, "  %s%s/\n", strings.Repeat("  ", len(open)), d)
			open = append(open, d)
		}
		suffix := bytesize.Format(f.Length)
		if f.IsSymlink() {
			suffix = "-> " + strings.Join(f.SymlinkTarget, "/")
		}
		fmt.Fprintf(w, "  %s%s  (%s)\n", strings.Repeat("  ", len(open)), parts[len(parts)-1], suffix)
	}
}

// magnetInfo fetches a magnet link's metadata for info. Peers are told a
// port to reach us at, where a listener turns them away (it serves no
// torrent), and the trackers hear that we left once the metadata is in.
func magnetInfo(c *cli.Context, link magnet.Link) (*metainfo.MetaInfo, error) {
	log := logger(c)
	ln, err := fetch.Listen(":0", log)
	if err != nil {
		return nil, fmt.Errorf("listen for peers: %w", err)
	}
	ctx, cancel := context.WithCancel(c.Context)
	served := make(chan struct{})
	go func() { ln.Serve(ctx); close(served) }()
	defer func() { cancel(); <-served }()
	node, err := openDHT(c, log, ln.Port(), noState)
	if err != nil {
		return nil, err
	}
	defer closeDHT(node)
	mi, mf, err := fetchMagnet(c, link, newPeerID(), ln.Port(), node, log)
	if err == nil {
		mf.Stop() // on failure fetchMagnet did
	}
	return mi, err
}
