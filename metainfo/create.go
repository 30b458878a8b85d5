package metainfo

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btfs/btfs/bencode"
)

// CreateOptions describe a torrent to create.
type CreateOptions struct {
	Name         string     // default: the base name of the path
	PieceLength  int64      // 0 chooses one from the total size (AutoPieceLength)
	Trackers     [][]string // BEP 12 tiers
	WebSeeds     []string   // BEP 19
	Private      bool
	Comment      string
	CreatedBy    string
	CreationDate time.Time // zero omits it (byte-identical output across runs)
	Workers      int       // hashing goroutines; 0 means GOMAXPROCS
	// Progress, when set, is called with the number of bytes read so far.
	Progress func(done, total int64)
}

// Auto piece length bounds: aim for at most targetPieces pieces, as other
// creators do, within the sizes clients handle well.
const (
	targetPieces     = 2000
	minAutoPieceSize = 16 << 10
	maxAutoPieceSize = 16 << 20
	hashBufferBudget = 256 << 20 // memory for pieces in flight between reader and hashers
	minHashBuffers   = 4
	buffersPerWorker = 2
)

// AutoPieceLength picks the smallest power of two from 16 KiB to 16 MiB that
// keeps the piece count at or under 2000 (so between 1000 and 2000 when the
// bounds allow).
func AutoPieceLength(total int64) int64 {
	pl := int64(minAutoPieceSize)
	for pl < maxAutoPieceSize && (total+pl-1)/pl > targetPieces {
		pl *= 2
	}
	return pl
}

// sourceFile is a file to be hashed.
type sourceFile struct {
	abs    string
	path   []string // relative to the torrent root
	length int64
}

// Create hashes the file or directory at root and returns its torrent.
// Files of a directory are ordered by their relative path, byte by byte, so the
// same tree always gives the same torrent; symlinks to files are followed,
// symlinks to directories are not (they could loop).
func Create(ctx context.Context, root string, opts CreateOptions) (*MetaInfo, error) {
	files, single, err := collectFiles(root)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, f := range files {
		total += f.length
	}
	if total == 0 {
		return nil, fmt.Errorf("create: %s: nothing to share (no data in any file)", root)
	}
	if total > MaxLength {
		return nil, fmt.Errorf("create: %s: %d bytes is more than the limit of %d", root, total, int64(MaxLength))
	}
	pl := opts.PieceLength
	if pl == 0 {
		pl = AutoPieceLength(total)
	}
	if err := CheckPieceLength(pl); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	if n := (total + pl - 1) / pl; n > MaxPieces {
		return nil, fmt.Errorf("create: %d pieces of %d bytes is more than the limit of %d; choose a larger piece length", n, pl, MaxPieces)
	}
	name := opts.Name
	if name == "" {
		abs, err := filepath.Abs(root)
		if err != nil {
			return nil, fmt.Errorf("create: %w", err)
		}
		name = filepath.Base(abs)
	}
	if err := CheckName(name); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	pieces, err := hashPieces(ctx, files, total, pl, opts)
	if err != nil {
		return nil, err
	}
	infoBytes, err := encodeInfo(name, pl, pieces, opts.Private, files, single)
	if err != nil {
		return nil, err
	}
	data, err := encodeTorrent(infoBytes, opts)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

func collectFiles(root string) ([]sourceFile, bool, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, false, fmt.Errorf("create: %w", err)
	}
	if st.Mode().IsRegular() {
		return []sourceFile{{abs: root, path: []string{st.Name()}, length: st.Size()}}, true, nil
	}
	if !st.IsDir() {
		return nil, false, fmt.Errorf("create: %s is neither a file nor a directory", root)
	}
	var files []sourceFile
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := os.Stat(p) // follows a symlink to a file
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil // devices, sockets, symlinks to directories
		}
		if len(files) >= MaxFiles {
			return fmt.Errorf("more than %d files", MaxFiles)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files = append(files, sourceFile{abs: p, path: strings.Split(filepath.ToSlash(rel), "/"), length: info.Size()})
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("create: %w", err)
	}
	if len(files) == 0 {
		return nil, false, fmt.Errorf("create: %s has no files", root)
	}
	// mktorrent's order: the relative paths compared as strings.
	slices.SortFunc(files, func(a, b sourceFile) int {
		return strings.Compare(strings.Join(a.path, "/"), strings.Join(b.path, "/"))
	})
	return files, false, nil
}

// hashPieces hashes the pieces on Workers goroutines. Each worker claims the
// next piece and hashes it straight from the memory-mapped file: no copy into a
// buffer and no hand-off between a reader and the hashers, so every core spends
// its time on SHA-1, and every byte is read once, in order.
func hashPieces(ctx context.Context, files []sourceFile, total, pl int64, opts CreateOptions) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	numPieces := int((total + pl - 1) / pl)
	pieces := make([]byte, numPieces*HashSize)
	src := newPieceSource(files, pl)
	defer src.closeAll()

	var (
		next     atomic.Int64
		done     atomic.Int64
		progress sync.Mutex // serializes calls to opts.Progress
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	for range min(workers, numPieces) {
		wg.Go(func() {
			var buf []byte // for files that cannot be mapped
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= numPieces {
					return
				}
				n := min(pl, total-int64(i)*pl)
				sum, err := src.hash(i, n, &buf)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				copy(pieces[i*HashSize:], sum[:])
				d := done.Add(n)
				if opts.Progress != nil {
					progress.Lock()
					opts.Progress(d, total)
					progress.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return pieces, nil
}

type fileDict struct {
	Length int64    `bencode:"length"`
	Path   []string `bencode:"path"`
}

type infoDict struct {
	Files       []fileDict `bencode:"files,omitempty"`
	Length      int64      `bencode:"length,omitempty"`
	Name        string     `bencode:"name"`
	PieceLength int64      `bencode:"piece length"`
	Pieces      []byte     `bencode:"pieces"`
	Private     bool       `bencode:"private,omitempty"`
}

func encodeInfo(name string, pl int64, pieces []byte, private bool, files []sourceFile, single bool) ([]byte, error) {
	d := infoDict{Name: name, PieceLength: pl, Pieces: pieces, Private: private}
	if single {
		d.Length = files[0].length
	} else {
		for _, f := range files {
			d.Files = append(d.Files, fileDict{Length: f.length, Path: f.path})
		}
	}
	return bencode.Marshal(d)
}

type torrentDict struct {
	Announce     string        `bencode:"announce,omitempty"`
	AnnounceList [][]string    `bencode:"announce-list,omitempty"`
	Comment      string        `bencode:"comment,omitempty"`
	CreatedBy    string        `bencode:"created by,omitempty"`
	CreationDate int64         `bencode:"creation date,omitempty"`
	Info         bencode.Value `bencode:"info"`
	URLList      []string      `bencode:"url-list,omitempty"`
}

func encodeTorrent(infoBytes []byte, opts CreateOptions) ([]byte, error) {
	info, err := bencode.Parse(infoBytes)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	d := torrentDict{Info: info, Comment: opts.Comment, CreatedBy: opts.CreatedBy, URLList: opts.WebSeeds}
	var tiers [][]string
	for _, tier := range opts.Trackers {
		if len(tier) > 0 {
			tiers = append(tiers, tier)
		}
	}
	if len(tiers) > 0 {
		d.Announce = tiers[0][0]
		// announce-list only when it says more than announce does, as mktorrent does.
		if len(tiers) > 1 || len(tiers[0]) > 1 {
			d.AnnounceList = tiers
		}
	}
	if !opts.CreationDate.IsZero() {
		d.CreationDate = opts.CreationDate.Unix()
	}
	return bencode.Marshal(d)
}

// Encode returns the .torrent file for mi: the info dictionary as it was
// read, with the other fields canonical.
func (mi *MetaInfo) Encode() ([]byte, error) {
	return encodeTorrent(mi.InfoBytes, CreateOptions{
		Trackers: mi.Trackers, WebSeeds: mi.WebSeeds, Comment: mi.Comment,
		CreatedBy: mi.CreatedBy, CreationDate: mi.CreationDate,
	})
}
