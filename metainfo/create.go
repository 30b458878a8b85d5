package metainfo

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
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
	if pl <= 0 || pl > MaxPieceLength {
		return nil, fmt.Errorf("create: piece length %d is out of range (1 byte to %d MiB)", pl, MaxPieceLength>>20)
	}
	if n := (total + pl - 1) / pl; n > MaxPieces {
		return nil, fmt.Errorf("create: %d pieces of %d bytes is more than the limit of %d; choose a larger piece length", n, pl, MaxPieces)
	}
	pieces, err := hashPieces(ctx, files, total, pl, opts)
	if err != nil {
		return nil, err
	}
	name := opts.Name
	if name == "" {
		abs, err := filepath.Abs(root)
		if err != nil {
			return nil, fmt.Errorf("create: %w", err)
		}
		name = filepath.Base(abs)
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

type hashJob struct {
	index int
	buf   []byte
}

// hashPieces reads the files once, in order, and hashes pieces on Workers
// goroutines. Reading is sequential (what disks and page caches like best);
// SHA-1 is the expensive part, so it is what runs in parallel. A fixed pool of
// piece buffers bounds memory.
func hashPieces(ctx context.Context, files []sourceFile, total, pl int64, opts CreateOptions) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	nbuf := max(minHashBuffers, min(buffersPerWorker*workers, int(hashBufferBudget/pl)))
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- make([]byte, pl)
	}
	numPieces := int((total + pl - 1) / pl)
	pieces := make([]byte, numPieces*HashSize)
	jobs := make(chan hashJob, nbuf)

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				sum := sha1.Sum(j.buf)
				copy(pieces[j.index*HashSize:], sum[:])
				free <- j.buf[:cap(j.buf)]
			}
		})
	}
	err := readPieces(ctx, files, total, pl, free, jobs, opts.Progress)
	close(jobs)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	return pieces, nil
}

// readPieces fills piece buffers from the concatenated files and sends them
// to the hashers.
func readPieces(ctx context.Context, files []sourceFile, total, pl int64, free chan []byte, jobs chan<- hashJob, progress func(int64, int64)) error {
	var (
		cur   *os.File
		left  int64 // bytes left in cur
		next  int   // index of the next file to open
		done  int64
		index int
	)
	defer func() {
		if cur != nil {
			cur.Close()
		}
	}()
	for done < total {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		buf = buf[:min(pl, total-done)]
		for n := 0; n < len(buf); {
			for left == 0 {
				if cur != nil {
					cur.Close()
					cur = nil
				}
				f, err := os.Open(files[next].abs)
				if err != nil {
					return fmt.Errorf("create: %w", err)
				}
				cur, left = f, files[next].length
				next++
			}
			k := int(min(int64(len(buf)-n), left))
			if _, err := io.ReadFull(cur, buf[n:n+k]); err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
					err = errors.New("file shrank while it was being hashed")
				}
				return fmt.Errorf("create: %s: %w", cur.Name(), err)
			}
			n += k
			left -= int64(k)
		}
		jobs <- hashJob{index: index, buf: buf}
		index++
		done += int64(len(buf))
		if progress != nil {
			progress(done, total)
		}
	}
	return nil
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
