// Package filestore keeps a torrent's pieces in the torrent's own files, laid
// out on disk as the torrent describes them: what `btfs get` leaves behind and
// what `btfs seed` serves from. Pad files (BEP 47) are never written; their
// bytes read as zeros.
package filestore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/btfs/btfs/metainfo"
)

// Store reads and writes pieces in files under a directory. It is safe for
// concurrent use: reads and writes at distinct offsets go straight to the
// files (pread/pwrite); only opening a file takes the lock.
type Store struct {
	info     *metainfo.Info
	dir      string
	writable bool

	mu    sync.Mutex // guards files
	files map[int]*os.File
}

// Open returns a store for info's files under dir (a multi-file torrent's
// files live in dir/NAME/...). A writable store creates missing directories
// and files as pieces arrive; a read-only one only reads.
func Open(dir string, info *metainfo.Info, writable bool) *Store {
	return &Store{info: info, dir: dir, writable: writable, files: map[int]*os.File{}}
}

// Path returns where file i of the torrent lives on disk.
func (s *Store) Path(i int) string {
	return filepath.Join(s.dir, filepath.FromSlash(s.info.DisplayPath(&s.info.Files[i])))
}

// Close closes the open files.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for i, f := range s.files {
		errs = append(errs, f.Close())
		delete(s.files, i)
	}
	return errors.Join(errs...)
}

// ReadAt fills p from piece at offset off within it.
func (s *Store) ReadAt(p []byte, piece int, off int64) error {
	return s.each(s.info.PieceOffset(piece)+off, int64(len(p)), func(f *os.File, at int64, lo, hi int64) error {
		seg := p[lo:hi]
		if f == nil { // pad file
			clear(seg)
			return nil
		}
		if _, err := f.ReadAt(seg, at); err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%s is shorter than the torrent says", f.Name())
			}
			return err
		}
		return nil
	})
}

// WritePiece writes a verified piece given as consecutive blocks.
func (s *Store) WritePiece(piece int, blocks [][]byte) error {
	if !s.writable {
		return errors.New("filestore: store is read-only")
	}
	off := s.info.PieceOffset(piece)
	for _, b := range blocks {
		err := s.each(off, int64(len(b)), func(f *os.File, at int64, lo, hi int64) error {
			if f == nil {
				return nil
			}
			_, err := f.WriteAt(b[lo:hi], at)
			return err
		})
		if err != nil {
			return err
		}
		off += int64(len(b))
	}
	return nil
}

// each calls fn for every file segment of the torrent bytes [off, off+n):
// the open file (nil for a pad file), the offset in it, and the segment's
// bounds relative to off.
func (s *Store) each(off, n int64, fn func(f *os.File, at, lo, hi int64) error) error {
	if off < 0 || n < 0 || off+n > s.info.Length {
		return fmt.Errorf("filestore: range %d+%d is outside the torrent's %d bytes", off, n, s.info.Length)
	}
	for done := int64(0); done < n; {
		fi := s.info.FileAt(off + done)
		file := &s.info.Files[fi]
		at := off + done - file.Offset
		k := min(n-done, file.Length-at)
		var f *os.File
		if !file.IsPad() {
			var err error
			if f, err = s.open(fi); err != nil {
				return err
			}
		}
		if err := fn(f, at, done, done+k); err != nil {
			return fmt.Errorf("filestore: %s: %w", s.Path(fi), err)
		}
		done += k
	}
	return nil
}

func (s *Store) open(fi int) (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.files[fi]; f != nil {
		return f, nil
	}
	p := s.Path(fi)
	var f *os.File
	var err error
	if s.writable {
		if err = os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	} else {
		f, err = os.Open(p)
	}
	if err != nil {
		return nil, err
	}
	s.files[fi] = f
	return f, nil
}

// Finish truncates every file to its exact length (a file may have been
// created longer by an earlier, different torrent) and creates the empty
// files, which no piece ever touches.
func (s *Store) Finish() error {
	for i := range s.info.Files {
		f := &s.info.Files[i]
		if f.IsPad() || f.IsSymlink() {
			continue
		}
		fd, err := s.open(i)
		if err != nil {
			return fmt.Errorf("filestore: %w", err)
		}
		if err := fd.Truncate(f.Length); err != nil {
			return fmt.Errorf("filestore: %w", err)
		}
	}
	return nil
}
