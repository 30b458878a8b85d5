package cache

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/btfs/btfs/internal/bytesize"
	"github.com/btfs/btfs/metainfo"
	"github.com/dgraph-io/badger/v4"
)

// Limits and tuning, with reasons.
const (
	// DefaultMaxSize bounds the cache when the user says nothing: big enough
	// for a few films or a dataset's working set, small enough for a laptop
	// disk. On a disk with less room the default is DefaultDiskShare of what
	// the cache could take at Open (the disk's free space plus what the
	// cache holds already), so that the default never asks for more than
	// the disk holds and leaves room for other programs.
	DefaultMaxSize = 10 << 30
	// DefaultDiskShare, in percent: see DefaultMaxSize.
	DefaultDiskShare = 75
	// MinMaxSize is the smallest bound: below it badger's fixed costs (a
	// memtable's log, the LSM tree, the value-log file being written) would
	// take most of the space.
	MinMaxSize = 16 << 20

	// defaultChunkSize is how pieces are split; chosen by BenchmarkLayout.
	// A read costs a badger lookup (~1 us) per chunk it touches plus a copy
	// out of the mapped value log (~16 GB/s when aligned), so larger chunks
	// read faster: 256 KiB serves a 128 KiB read (FUSE's usual) with one
	// lookup and a 1 MiB read with four, within a few percent of whole-piece
	// values, while a write never assembles more than 256 KiB at a time
	// (whole 16 MiB pieces cost badger a 16 MiB buffer per write).
	defaultChunkSize = 256 << 10
	// maxChunks bounds the chunks of one piece (the key holds a uint16), and
	// with it a piece's transaction: 64 MiB pieces (the largest metainfo
	// accepts) in 16 KiB chunks.
	maxChunks = 1 << 12

	// valueThreshold sends every chunk but a piece's last few bytes to the
	// value log, where values are read without copying; the LSM tree keeps
	// only keys, pointers and torrent metadata, so it stays a few MiB even
	// for a full 10 GiB cache.
	valueThreshold = 512
	// Value-log files are a thirty-second of the bound, within badger's
	// limits: small enough that the file being written (never collected)
	// and the granularity of GC are a small share of the bound, large enough
	// that files stay few (badger msyncs each one as it fills: writes run at
	// disk speed, ~350 MB/s here, like a file written with fdatasync).
	minVlogFileSize = 1 << 20
	maxVlogFileSize = 64 << 20
	// Memtables hold only keys and value pointers (~60 bytes a chunk), so a
	// small one lasts long; a sixty-fourth of the bound, at most 8 MiB, keeps
	// RSS and the memtable's log small.
	minMemTableSize = 1 << 20
	maxMemTableSize = 8 << 20

	// gcRatio is the garbage share that makes a value-log file worth
	// rewriting in the background: at most half its bytes are copied.
	gcRatio = 0.5
	// gcPressureRatio is the share settled for while the directory is over
	// the bound.
	gcPressureRatio = 0.1
	// gcLowDiskRatio is the share required while the disk is nearly full:
	// such a file is deleted after copying almost nothing.
	gcLowDiskRatio = 0.95
	// gcInterval paces background GC besides the runs that evictions start.
	gcInterval = time.Minute
	// evictShare: an eviction frees this share of the live bound more than
	// it must, so that evictions (a DropPrefix each, ~10 ms: it flushes the
	// memtable and compacts) come once per few percent of the cache
	// written, not once per piece.
	evictShare = 32
	// maxWriters bounds the WritePiece calls past their first checks:
	// commits go one at a time (commitMu), and a second writer assembles
	// its chunks meanwhile.
	maxWriters = 2
	// dropBatch bounds the prefixes of one DropPrefix: its compaction tests
	// every key against every prefix.
	dropBatch = 256
)

// Errors callers can test for.
var (
	// ErrNotStored: the piece is not in the cache (never stored, or evicted).
	ErrNotStored = errors.New("cache: piece not stored")
	// ErrCorrupt: a stored piece failed its check; it was dropped and
	// reported as evicted, and must be fetched again.
	ErrCorrupt = errors.New("cache: stored piece is corrupt")
	// ErrNoRoom: the piece cannot fit under the bound even after evicting
	// every piece no reader holds.
	ErrNoRoom = errors.New("cache: no room under the size bound")
	// ErrNotCached: Remove was given a torrent the cache holds nothing of.
	ErrNotCached = errors.New("cache: torrent not in the cache")
	// ErrClosed: the cache was closed.
	ErrClosed = errors.New("cache: closed")
)

// Options configure a Cache.
type Options struct {
	// MaxSize bounds the directory's size on disk; 0 means DefaultMaxSize,
	// or DefaultDiskShare of the room the disk has for the cache if less.
	MaxSize int64
	// Logger receives badger's warnings and errors, and evictions at debug
	// level; nil discards them.
	Logger *slog.Logger

	// VerifyReads makes every read check badger's CRC of the chunks it
	// touches, on top of the SHA-1 check of each piece's first read after
	// Open. It catches damage done to the disk after that first read, and
	// keeps clear of a badger flaw (a damaged entry header makes
	// valueLog.Read return without releasing the file's read lock, so GC of
	// that file and Close then hang). It costs most of the read rate
	// (BenchmarkLayout: 0.30-0.36 of pread for 128 KiB reads, 0.53-0.59
	// for 1 MiB, 0.07 for 16 KiB uploads), so it is off by default.
	VerifyReads bool

	// For tests and benchmarks: the chunk size of a new store (an existing
	// store keeps the one it was made with).
	chunkSize int
}

// Cache is a store of verified pieces shared by all torrents. It is safe for
// concurrent use.
//
// Lock order: opMu, then gcMu, then writeMu, then commitMu, then mu, then
// roomMu. mu and
// roomMu are never held across a badger call.
type Cache struct {
	db           *badger.DB
	dir          string
	log          *slog.Logger
	maxSize      int64 // bound on the directory's size
	liveMax      int64 // bound on live piece bytes, below maxSize by the GC headroom
	evictSlack   int64 // extra bytes an eviction frees
	chunkSize    int
	vlogFileSize int64
	memTableSize int64
	chunks       sync.Pool // *[]byte big enough for a padded chunk, for assembling chunks from blocks

	// opMu keeps Close from closing badger under a running operation: every
	// operation holds it shared, Close exclusively.
	opMu sync.RWMutex
	// writeMu keeps commits apart from the badger calls that must not
	// overlap them: DropPrefix, which fails overlapping writes
	// (ErrBlockedWrites), and value-log GC, whose start reads the memtables'
	// versions while a commit writes them (a data race in badger v4.9.6's
	// valueLog.rewrite). Commits hold it shared, those exclusively, one
	// value-log file at a time.
	writeMu sync.RWMutex
	gcMu    sync.Mutex // serializes GC rounds: the background's and Compact's
	// commitMu makes commits one at a time, each in a badger write batch
	// of its own, so that the blocks preallocate gives a commit are in the
	// files badger writes it to. It guards the fields below.
	commitMu    sync.Mutex
	vlogTail    logTail // the value-log file being written
	memTail     logTail // the memtable log being written
	nextMem     string  // the memtable log made ahead of badger
	noFallocate bool    // the filesystem has no fallocate

	commitTs atomic.Uint64 // the last commit's timestamp (txn.go)
	// Upkeep (writeback.go): bytes since the last round of each kind, and
	// the rounds due.
	sinceWriteback, sinceRelease atomic.Int64
	writebackDue, releaseDue     atomic.Bool

	mu       sync.Mutex // guards the fields below and every TorrentStore's piece state
	torrents map[metainfo.Hash]*TorrentStore
	live     int64  // bytes of stored pieces, plus writes in flight
	clock    uint64 // LRU clock: the last tick handed out
	closed   bool

	roomMu  sync.Mutex // guards room
	room    room
	writers chan struct{} // cap maxWriters: the writes under way

	gcKick     chan struct{} // cap 1: start a GC round
	upkeepKick chan struct{} // cap 1: start a round of upkeep (writeback.go)
	quit       chan struct{} // closed by Close
	wg         sync.WaitGroup
}

// Open opens (or creates) the cache in dir.
func Open(dir string, opts Options) (*Cache, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, dirError(dir, err)
	}
	if err := probeWritable(dir); err != nil {
		return nil, err
	}
	maxSize := opts.MaxSize
	if maxSize == 0 {
		var err error
		if maxSize, err = defaultMaxSize(dir); err != nil {
			return nil, err
		}
	}
	if maxSize < MinMaxSize {
		return nil, fmt.Errorf("cache: size bound %s is below the minimum %s", bytesize.Format(maxSize), bytesize.Format(MinMaxSize))
	}
	// Badger's files are sized to the bound, or to the disk if it holds
	// less: their sizes are the room each write asks the disk for.
	sizing := maxSize
	if free, err := freeSpace(dir); err == nil {
		sizing = min(sizing, max(free+dirUsage(dir), MinMaxSize))
	}
	c := &Cache{
		dir: dir, log: log, maxSize: maxSize,
		vlogFileSize: min(max(sizing/32, minVlogFileSize), maxVlogFileSize),
		memTableSize: min(max(sizing/64, minMemTableSize), maxMemTableSize),
		torrents:     map[metainfo.Hash]*TorrentStore{},
		gcKick:       make(chan struct{}, 1),
		quit:         make(chan struct{}),
		writers:      make(chan struct{}, maxWriters),
		upkeepKick:   make(chan struct{}, 1),
	}
	// Headroom for what is on disk besides live pieces: garbage not yet
	// collected (an eighth), the value-log file being written and the one
	// GC writes into, a memtable's log, and the reserve (room.go).
	c.liveMax = maxSize - maxSize/8 - 2*c.vlogFileSize - c.memTableSize - c.reserveSize()
	c.evictSlack = c.liveMax / evictShare
	// A crash leaves logs with sparse tails, and maybe a full disk: make
	// the store safe to open (room.go, rules 3 and 4).
	if err := trimSparseTails(dir, log); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if err := removeEmptyLogs(dir, log); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c.releaseReserveIfFull()
	c.room.reserved = c.hasReserve()
	db, err := badger.OpenManaged(c.badgerOptions(opts))
	if err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) || strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("cache %s is in use by another btfs process (a mount, get or seed); stop it first: %w", dir, err)
		}
		return nil, fmt.Errorf("cache: open %s (remove the directory to start afresh if it stays broken): %w", dir, err)
	}
	c.db = db
	c.commitTs.Store(db.MaxVersion())
	want := opts.chunkSize
	if want == 0 {
		want = defaultChunkSize
	}
	if c.chunkSize, err = c.loadFormat(want); err == nil {
		err = c.loadIndex()
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	c.chunks.New = func() any { b := make([]byte, c.chunkSize+2*vlogAlign); return &b }
	if free, err := freeSpace(dir); err == nil && free+c.diskUsage() < maxSize {
		log.Warn("cache: the size bound is more than the disk can hold; writes will stop when it is full",
			"dir", dir, "bound", bytesize.Format(maxSize), "free", bytesize.Format(free))
	}
	c.wg.Add(2)
	go c.gcLoop()
	go c.upkeepLoop()
	return c, nil
}

// Close stops GC, waits for running operations, saves the pieces' recency
// and closes the store. The TorrentStores fail with ErrClosed afterwards.
func (c *Cache) Close() error { return c.close(true) }

// close is Close; tests pass false to leave no recency record, as a crash
// would.
func (c *Cache) close(saveRecency bool) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	close(c.quit)
	c.wg.Wait()
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if saveRecency {
		if err := c.saveSnapshot(); err != nil {
			c.log.Warn("cache: recency not saved; the next start evicts in write order", "err", err)
		}
	}
	c.releaseReserveIfFull() // Close flushes the memtable (room.go, rule 3)
	if err := c.db.Close(); err != nil {
		return fmt.Errorf("cache: close: %w", err)
	}
	return nil
}

// enter starts an operation: it holds off Close until leave.
func (c *Cache) enter() error {
	c.opMu.RLock()
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		c.opMu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (c *Cache) leave() { c.opMu.RUnlock() }

// Dir is the directory the cache lives in.
func (c *Cache) Dir() string { return c.dir }

// MaxSize is the bound on the directory's size.
func (c *Cache) MaxSize() int64 { return c.maxSize }
