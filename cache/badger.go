package cache

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// badgerOptions tunes badger for large values and a small footprint: every
// chunk in the value log, an LSM tree of keys and pointers only, small
// memtables, no block cache, no compression.
func (c *Cache) badgerOptions(opts Options) badger.Options {
	return badger.DefaultOptions(c.dir).
		WithLogger(badgerLogger{c.log}).
		WithMetricsEnabled(false).
		WithDetectConflicts(false). // one writer per piece, and pieces never change
		WithNumVersionsToKeep(1).
		WithSyncWrites(false). // a lost tail after a power cut is refetched; rule 3 catches torn values
		WithValueThreshold(valueThreshold).
		WithValueLogFileSize(c.vlogFileSize).
		WithMemTableSize(c.memTableSize).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithNumCompactors(2). // badger's minimum; the LSM tree is tiny
		WithBaseTableSize(1 << 20).
		WithBaseLevelSize(4 << 20).
		WithCompression(options.None). // keys and pointers do not compress
		WithBlockCacheSize(0).         // tables are memory-mapped and uncompressed
		WithIndexCacheSize(0).
		WithChecksumVerificationMode(options.OnTableRead).
		WithVerifyValueChecksum(opts.VerifyReads)
}

// badgerLogger passes badger's messages to slog. Badger's info messages
// (every compaction, every GC round) are debug-level here.
type badgerLogger struct{ l *slog.Logger }

func msg(format string, args []any) string {
	return "badger: " + strings.TrimSpace(fmt.Sprintf(format, args...))
}

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error(msg(f, a)) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn(msg(f, a)) }
func (b badgerLogger) Infof(f string, a ...any)    { b.l.Debug(msg(f, a)) }
func (b badgerLogger) Debugf(string, ...any)       {}

// removeEmptyLogs deletes zero-length value-log and memtable-log files:
// what a kill between badger creating such a file and writing its header
// leaves behind. They hold nothing, and badger refuses to open a store that
// has one ("Create a new file"), which would make the cache unusable after
// a crash at the wrong moment (TestKill9MidWrite found it).
func removeEmptyLogs(dir string, log *slog.Logger) error {
	return eachLogFile(dir, func(e os.DirEntry) error {
		if fi, err := e.Info(); err == nil && fi.Size() == 0 {
			log.Warn("cache: removing an empty log file left by a crash", "file", e.Name())
			return os.Remove(filepath.Join(dir, e.Name()))
		}
		return nil
	})
}

// eachLogFile calls fn for each of badger's value-log and memtable-log
// files in dir, the files that a crash can leave half made.
func eachLogFile(dir string, fn func(os.DirEntry) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".vlog") && !strings.HasSuffix(name, ".mem") {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}
