package watchdir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/btfs/btfs/magnet"
	"github.com/btfs/btfs/metainfo"
)

// maxMagnetFile bounds a .magnet file: one link of at most magnet.MaxLength,
// with room for the whitespace around it.
const maxMagnetFile = magnet.MaxLength + 4<<10

// errGone says the file is no longer there.
var errGone = errors.New("file is gone")

// loaded is a file's content, parsed.
type loaded struct {
	torrent *metainfo.MetaInfo
	magnet  *magnet.Link
	hash    metainfo.Hash
}

// load reads and parses the file at path. A file that is not there gives
// errGone; otherwise modTime is the file's modification time, also when it
// does not parse (the caller tells a file still being written by it).
func load(path string) (l loaded, modTime time.Time, err error) {
	// O_NONBLOCK: a FIFO named x.torrent must not hang the watcher in open.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if _, lerr := os.Lstat(path); lerr == nil {
			return l, time.Time{}, errors.New("symlink to a missing file")
		}
		return l, time.Time{}, errGone
	}
	if err != nil {
		return l, time.Time{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return l, time.Time{}, err
	}
	if fi.IsDir() {
		return l, time.Time{}, errors.New("a directory, not a file")
	}
	if !fi.Mode().IsRegular() {
		return l, time.Time{}, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	modTime = fi.ModTime()
	limit := int64(metainfo.MaxTorrentSize)
	isMagnet := hasSuffixFold(path, MagnetSuffix)
	if isMagnet {
		limit = maxMagnetFile
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return l, modTime, err
	}
	if isMagnet {
		l, err = parseMagnet(data)
	} else {
		l, err = parseTorrent(data)
	}
	return l, modTime, err
}

func parseTorrent(data []byte) (loaded, error) {
	if len(data) == 0 {
		return loaded{}, errors.New("empty file")
	}
	mi, err := metainfo.Parse(data)
	if err != nil {
		return loaded{}, err
	}
	return loaded{torrent: mi, hash: mi.InfoHash}, nil
}

func parseMagnet(data []byte) (loaded, error) {
	if len(data) > maxMagnetFile {
		return loaded{}, fmt.Errorf("larger than %d KiB: a .magnet file holds one link", maxMagnetFile>>10)
	}
	text := strings.TrimSpace(string(data))
	if text == "" {
		return loaded{}, errors.New("empty file: a .magnet file holds one magnet link")
	}
	if strings.ContainsAny(text, "\r\n") {
		return loaded{}, errors.New("more than one line: a .magnet file holds one magnet link")
	}
	link, err := magnet.Parse(text)
	if err != nil {
		return loaded{}, err
	}
	return loaded{magnet: &link, hash: link.InfoHash}, nil
}
