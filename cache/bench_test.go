package cache

import (
	"crypto/sha1"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/bytesize"
	"github.com/btfs/btfs/metainfo"
)

// benchData is how much a read benchmark reads from: enough pieces that
// reads land all over, little enough to stay in the page cache (warm).
const benchData = 64 << 20

// layout is one way to store pieces, for BenchmarkLayout.
type layout struct {
	chunk int // 0: one value per piece
	crc   bool
}

func (l layout) String() string {
	s := "whole"
	if l.chunk != 0 {
		s = "chunk=" + sizeName(int64(l.chunk))
	}
	if l.crc {
		s += "+crc"
	}
	return s
}

func sizeName(n int64) string { return strings.ReplaceAll(bytesize.Format(n), " ", "") }

// BenchmarkLayout measures warm range reads for piece sizes from 256 KiB to
// 16 MiB stored whole or in chunks, with and without badger's per-read CRC
// check (VerifyReads). Each read from the cache alternates with a pread of
// the same amount from a plain file on the same disk (the ceiling), so both
// rates come from the same moments of a shared machine; cache/file is their
// ratio. go test -run - -bench Layout ./cache
func BenchmarkLayout(b *testing.B) {
	for _, piece := range []int64{256 << 10, 1 << 20, 4 << 20, 16 << 20} {
		for _, read := range []int{16 << 10, 128 << 10, 1 << 20} {
			if int64(read) > piece {
				continue
			}
			for _, l := range []layout{{0, false}, {1 << 20, false}, {256 << 10, false}, {64 << 10, false}, {0, true}, {256 << 10, true}, {64 << 10, true}} {
				if l.chunk >= int(piece) {
					continue
				}
				name := fmt.Sprintf("piece=%s/read=%s/%s", sizeName(piece), sizeName(int64(read)), l)
				b.Run(name, func(b *testing.B) { benchPair(b, piece, read, l) })
			}
		}
	}
}

// BenchmarkReadAt is the default layout against the plain file: the
// figures the README quotes. go test -run - -bench ReadAt ./cache
func BenchmarkReadAt(b *testing.B) {
	for _, piece := range []int64{1 << 20, 4 << 20} {
		for _, read := range []int{16 << 10, 128 << 10, 1 << 20} {
			name := fmt.Sprintf("piece=%s/read=%s", sizeName(piece), sizeName(int64(read)))
			b.Run(name, func(b *testing.B) { benchPair(b, piece, read, layout{defaultChunkSize, false}) })
		}
	}
}

// offsets returns aligned random read positions as (piece, offset).
func offsets(piece int64, read int) [][2]int64 {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([][2]int64, 4096)
	per := piece / int64(read)
	for i := range out {
		out[i] = [2]int64{rng.Int64N(benchData / piece), rng.Int64N(per) * int64(read)}
	}
	return out
}

// benchPair times cache reads and plain-file reads in turn.
func benchPair(b *testing.B, piece int64, read int, l layout) {
	chunk := l.chunk
	if chunk == 0 {
		chunk = int(piece)
	}
	dir := b.TempDir()
	c := open(b, filepath.Join(dir, "cache"), Options{MaxSize: 1 << 30, chunkSize: chunk, VerifyReads: l.crc})
	tt := newTorrent(99, piece, benchData)
	s := c.Torrent(tt.hash, tt.info)
	n := int(benchData / piece)
	f, err := os.Create(filepath.Join(dir, "plain"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for i := range n {
		write(b, s, tt, i)
		if _, err := f.Write(tt.piece(i)); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, read)
	for i := range n { // warm both, and get the cache past its first-read check
		for off := int64(0); off < piece; off += int64(read) {
			if err := s.ReadAt(buf, i, off); err != nil {
				b.Fatal(err)
			}
			f.ReadAt(buf, int64(i)*piece+off)
		}
	}
	at := offsets(piece, read)
	var inCache, inFile time.Duration
	b.SetBytes(int64(read))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		o := at[i%len(at)]
		t0 := time.Now()
		if err := s.ReadAt(buf, int(o[0]), o[1]); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := f.ReadAt(buf, o[0]*piece+o[1]); err != nil {
			b.Fatal(err)
		}
		inCache, inFile = inCache+t1.Sub(t0), inFile+time.Since(t1)
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(b.N) * float64(read) / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(inCache), "cache-MB/s")
	b.ReportMetric(mbps(inFile), "file-MB/s")
	b.ReportMetric(inFile.Seconds()/inCache.Seconds(), "cache/file")
	reportRSS(b)
}

// reportRSS adds the process's resident memory: anonymous (heap, badger's
// tables) and file-backed (value-log pages mapped by reads: page cache, not
// owned memory).
func reportRSS(b *testing.B) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || (f[0] != "RssAnon:" && f[0] != "RssFile:") {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		b.ReportMetric(kb/1024, strings.ToLower(strings.TrimSuffix(f[0], ":"))+"-MiB")
	}
}

// BenchmarkWritePiece measures storing pieces, chunked or whole; -benchmem
// shows what a write allocates (whole pieces: badger encodes each value-log
// entry into a buffer of its size).
func BenchmarkWritePiece(b *testing.B) {
	for _, piece := range []int64{1 << 20, 16 << 20} {
		for _, chunk := range []int{defaultChunkSize, int(piece)} {
			b.Run(fmt.Sprintf("piece=%s/chunk=%s", sizeName(piece), sizeName(int64(chunk))), func(b *testing.B) {
				c := open(b, b.TempDir(), Options{MaxSize: 1 << 30, chunkSize: chunk})
				tt := newTorrent(98, piece, 32*piece)
				s := c.Torrent(tt.hash, tt.info)
				data := make([][][]byte, 32)
				for i := range data {
					data[i] = blocks(tt.piece(i))
				}
				b.SetBytes(piece)
				for i := 0; b.Loop(); i++ {
					if i%32 == 0 && i > 0 {
						b.StopTimer()
						c.Remove(tt.hash)
						s = c.Torrent(tt.hash, tt.info)
						b.StartTimer()
					}
					if err := s.WritePiece(i%32, data[i%32]); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				reportRSS(b)
			})
		}
	}
}

// BenchmarkFirstRead is the check of a piece's first read after Open: the
// whole piece re-hashed.
func BenchmarkFirstRead(b *testing.B) {
	for _, piece := range []int64{1 << 20, 16 << 20} {
		b.Run("piece="+sizeName(piece), func(b *testing.B) {
			c := open(b, b.TempDir(), Options{MaxSize: 1 << 30})
			tt := newTorrent(97, piece, 4*piece)
			s := c.Torrent(tt.hash, tt.info)
			write(b, s, tt, 0, 1, 2, 3)
			b.SetBytes(piece)
			for i := 0; b.Loop(); i++ {
				if err := s.verify(i%4, piece); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen measures Open's key scan (rule 4) over a cache of 8192
// pieces in 32768 chunks: what a mount waits for before it knows its
// bitfield.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	c, err := Open(dir, Options{MaxSize: 1 << 30, chunkSize: 16 << 10})
	if err != nil {
		b.Fatal(err)
	}
	tt := newTorrent(96, 64<<10, 8192*(64<<10))
	s := c.Torrent(tt.hash, tt.info)
	p := blocks(make([]byte, 64<<10)) // contents do not matter: nothing reads them
	for i := range 8192 {
		if err := s.WritePiece(i, p); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	for b.Loop() {
		c, err := Open(dir, Options{MaxSize: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		if n := c.Torrent(tt.hash, tt.info).Have().Count(); n != 8192 {
			b.Fatalf("%d pieces", n)
		}
		c.Close()
	}
}

// BenchmarkMemory reports the resident memory of a cache with the default
// bound after writing 512 MiB in 1 MiB pieces and reading it back at
// random, 128 KiB at a time: anonymous memory is what the cache owns (Go
// heap, memtables, index); file-backed memory is value-log pages mapped by
// reads, i.e. page cache the kernel takes back under pressure.
func BenchmarkMemory(b *testing.B) {
	c := open(b, b.TempDir(), Options{})
	const pieces = 512
	tt := &torrent{seed: 95, info: &metainfo.Info{Name: "m", PieceLength: 1 << 20, Length: pieces << 20,
		Pieces: make([]byte, pieces*metainfo.HashSize)}}
	tt.hash[0] = 95
	buf := make([]byte, 1<<20)
	for i := range pieces { // hashes made as we go: no copy of the data stays in memory
		rand.NewChaCha8([32]byte{byte(i), byte(i >> 8)}).Read(buf)
		sum := sha1.Sum(buf)
		copy(tt.info.Pieces[i*metainfo.HashSize:], sum[:])
	}
	s := c.Torrent(tt.hash, tt.info)
	for i := range pieces {
		rand.NewChaCha8([32]byte{byte(i), byte(i >> 8)}).Read(buf)
		if err := s.WritePiece(i, blocks(buf)); err != nil {
			b.Fatal(err)
		}
	}
	at := offsets(1<<20, 128<<10)
	read := buf[:128<<10]
	for i := 0; b.Loop(); i++ {
		o := at[i%len(at)]
		if err := s.ReadAt(read, int(o[0]+int64(i)%8*64)%pieces, o[1]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	reportRSS(b)
}
