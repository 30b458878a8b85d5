package metainfo

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"sync"
	"syscall"
)

// pieceSource hashes pieces that may span several files. A file is opened
// (and mapped) by the first piece that needs it and closed when the last piece
// that touches it is hashed, so open descriptors and mappings stay few however
// many files there are.
type pieceSource struct {
	files  []sourceFile
	starts []int64 // offset of each file in the torrent
	pl     int64

	mu      sync.Mutex // guards open and pending
	open    map[int]*openFile
	pending []int // pieces not yet hashed, per file
}

type openFile struct {
	fd   *os.File
	data []byte // the mapped file; nil when it could not be mapped
}

func newPieceSource(files []sourceFile, pl int64) *pieceSource {
	s := &pieceSource{files: files, pl: pl, open: map[int]*openFile{}, starts: make([]int64, len(files)), pending: make([]int, len(files))}
	var off int64
	for i, f := range files {
		s.starts[i] = off
		if f.length > 0 {
			s.pending[i] = int((off+f.length-1)/pl - off/pl + 1)
		}
		off += f.length
	}
	return s
}

// hash returns the SHA-1 of piece i, n bytes long. buf is the caller's scratch
// space for files that cannot be mapped.
func (s *pieceSource) hash(piece int, n int64, buf *[]byte) (sum Hash, err error) {
	// A mapped file truncated by someone else faults on access; turn that
	// into an error rather than a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("create: a file shrank while it was being hashed (%v)", r)
		}
	}()
	off := int64(piece) * s.pl
	fi := sort.Search(len(s.files), func(i int) bool { return s.starts[i]+s.files[i].length > off })
	var h hash.Hash
	for done := int64(0); done < n; fi++ {
		f := &s.files[fi]
		if f.length == 0 {
			continue
		}
		fileOff := off + done - s.starts[fi]
		k := min(n-done, f.length-fileOff)
		seg, err := s.segment(fi, fileOff, k, buf)
		if err != nil {
			return Hash{}, err
		}
		if done == 0 && k == n { // the whole piece is in one file: no hash state to carry
			sum = sha1.Sum(seg)
		} else {
			if h == nil {
				h = sha1.New()
			}
			h.Write(seg)
		}
		s.release(fi)
		done += k
	}
	if h != nil {
		h.Sum(sum[:0])
	}
	return sum, nil
}

// segment returns k bytes of file fi at off: from the mapping, or read into buf.
func (s *pieceSource) segment(fi int, off, k int64, buf *[]byte) ([]byte, error) {
	of, err := s.acquire(fi)
	if err != nil {
		return nil, err
	}
	if of.data != nil {
		return of.data[off : off+k], nil
	}
	if int64(cap(*buf)) < k {
		*buf = make([]byte, s.pl)
	}
	b := (*buf)[:k]
	if _, err := of.fd.ReadAt(b, off); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("file shrank while it was being hashed")
		}
		return nil, fmt.Errorf("create: %s: %w", s.files[fi].abs, err)
	}
	return b, nil
}

func (s *pieceSource) acquire(fi int) (*openFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if of := s.open[fi]; of != nil {
		return of, nil
	}
	fd, err := os.Open(s.files[fi].abs)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	of := &openFile{fd: fd}
	if data, err := syscall.Mmap(int(fd.Fd()), 0, int(s.files[fi].length), syscall.PROT_READ, syscall.MAP_SHARED); err == nil {
		_ = syscall.Madvise(data, syscall.MADV_SEQUENTIAL) // read ahead, drop behind
		of.data = data
	}
	s.open[fi] = of
	return of, nil
}

// release records that one piece is done with file fi, closing it after the last.
func (s *pieceSource) release(fi int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending[fi]--
	if s.pending[fi] == 0 {
		s.open[fi].close()
		delete(s.open, fi)
	}
}

func (s *pieceSource) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for fi, of := range s.open {
		of.close()
		delete(s.open, fi)
	}
}

func (of *openFile) close() {
	if of.data != nil {
		_ = syscall.Munmap(of.data)
	}
	of.fd.Close()
}
