package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/btfs/btfs/fs"
	"github.com/btfs/btfs/session"
	"github.com/urfave/cli/v2"
)

// Adding and removing torrents of a running mount: btfs add and btfs
// remove POST to the mount's control socket (control.go), which serves
// /add and /remove beside /status.

// maxControlBody bounds a request to /add or /remove: thousands of paths
// or links, far below what could strain the mount.
const maxControlBody = 4 << 20

// changeRequest is the body of /add (Torrents: absolute paths of .torrent
// files, or magnet links) and of /remove (Torrents: names or info-hashes).
type changeRequest struct {
	Torrents []string `json:"torrents"`
}

// changeReply lists the names shown (add) or removed (remove), one per
// request item, and the errors of those that failed.
type changeReply struct {
	Names  []string `json:"names"`
	Errors []string `json:"errors,omitempty"`
}

// errOneTorrentMount is the answer of a one-torrent mount to add and remove.
var errOneTorrentMount = errors.New("this mount shows one torrent; a mount of several torrents (or with --watch) takes btfs add and btfs remove")

// controlHandler serves status, and add and remove for a library mount
// (lm nil: the mount of one torrent, which refuses them).
func controlHandler(status http.Handler, lm *libraryMount) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/status", status)
	mux.HandleFunc("POST /add", func(w http.ResponseWriter, r *http.Request) {
		serveChange(w, r, func(arg string) (string, error) {
			if lm == nil {
				return "", errOneTorrentMount
			}
			mi, link, err := session.LoadTorrentArg(arg)
			if err != nil {
				return "", err
			}
			spec := lm.base
			spec.MetaInfo, spec.Magnet = mi, link
			t, err := lm.add(spec)
			if errors.Is(err, fs.ErrExists) {
				return "", fmt.Errorf("%s: the mount shows this torrent already", arg)
			}
			if err != nil {
				return "", err
			}
			return lm.m.Shown(t.Key()), nil
		})
	})
	mux.HandleFunc("POST /remove", func(w http.ResponseWriter, r *http.Request) {
		serveChange(w, r, func(arg string) (string, error) {
			if lm == nil {
				return "", errOneTorrentMount
			}
			key, ok := lm.m.Find(arg)
			if !ok {
				return "", fmt.Errorf("%q: the mount shows no torrent of this name or info-hash ('btfs status' lists them)", arg)
			}
			if err := lm.m.Remove(key); err != nil {
				return "", err
			}
			lm.log.Info("torrent removed", "name", arg, "info_hash", key)
			return arg, nil
		})
	})
	return mux
}

func serveChange(w http.ResponseWriter, r *http.Request, change func(string) (string, error)) {
	var req changeRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxControlBody)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	var rep changeReply
	for _, arg := range req.Torrents {
		name, err := change(arg)
		if err != nil {
			rep.Errors = append(rep.Errors, err.Error())
			continue
		}
		rep.Names = append(rep.Names, name)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep)
}

func addCommand() *cli.Command {
	return &cli.Command{
		Name:      "add",
		Usage:     "show more torrents in a running mount",
		ArgsUsage: "MOUNTPOINT FILE.torrent|MAGNET...",
		Description: "Adds each torrent to the mount at MOUNTPOINT: its directory (or its one file) appears at\n" +
			"the mount's root. A name already shown gets a tag from the info-hash.",
		Action: func(c *cli.Context) error {
			if c.NArg() < 2 {
				return usagef(c, "add needs MOUNTPOINT and at least one FILE.torrent or MAGNET")
			}
			var args []string
			for _, a := range c.Args().Slice()[1:] {
				if !session.IsMagnet(a) {
					a = absPath(a) // the mount reads it, from its own directory
				}
				args = append(args, a)
			}
			return postChange(c, "add", args)
		},
	}
}

func removeCommand() *cli.Command {
	return &cli.Command{
		Name:      "remove",
		Aliases:   []string{"rm"},
		Usage:     "take torrents out of a running mount",
		ArgsUsage: "MOUNTPOINT NAME|INFOHASH...",
		Description: "Takes each torrent, by the name the mount shows it under or by its info-hash, off the\n" +
			"mount at once; files already open keep reading until closed. Its cached pieces stay.",
		Action: func(c *cli.Context) error {
			if c.NArg() < 2 {
				return usagef(c, "remove needs MOUNTPOINT and at least one NAME or INFOHASH")
			}
			return postChange(c, "remove", c.Args().Slice()[1:])
		},
	}
}

// postChange asks the mount at the first argument to add or remove args.
func postChange(c *cli.Context, op string, args []string) error {
	mountpoint := c.Args().First()
	socks := controlSockets(runtimeDir(), mountpoint)
	if len(socks) == 0 {
		return fmt.Errorf("no btfs mount at %s ('btfs status' lists the mounts)", absPath(mountpoint))
	}
	body, _ := json.Marshal(changeRequest{Torrents: args})
	resp, err := controlClient(socks[0]).Post("http://btfs/"+op, "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("asking the mount at %s: %w", mountpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("the mount at %s: %s (is it an older btfs? restart it)", mountpoint, strings.TrimSpace(string(msg)))
	}
	var rep changeReply
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return fmt.Errorf("the mount's reply: %w", err)
	}
	verb := map[string]string{"add": "added", "remove": "removed"}[op]
	for _, n := range rep.Names {
		fmt.Fprintf(c.App.Writer, "%s %s\n", verb, n)
	}
	if len(rep.Errors) > 0 {
		return errors.New(strings.Join(rep.Errors, "; "))
	}
	return nil
}
