package cache

import (
	"math"

	"github.com/dgraph-io/badger/v4"
)

// Badger runs in managed mode: the cache hands out commit timestamps
// itself and reads at the newest one. In badger's own mode every read
// transaction first waits for the commits in flight to finish (the oracle's
// watermark), so a read of a piece stored long ago waited for the write of
// the piece that had just arrived: a few milliseconds on every read of a
// streaming mount. Nothing here needs a snapshot older than "everything
// committed": a piece is read only after its commit returned (the index),
// and pieces never change.

// readLatest is the timestamp reads use: every committed version.
const readLatest = math.MaxUint64

// view runs fn in a read-only transaction that sees every commit made.
func (c *Cache) view(fn func(*badger.Txn) error) error {
	txn := c.db.NewTransactionAt(readLatest, false)
	defer txn.Discard()
	return fn(txn)
}

// update runs fn in a read-write transaction and commits it.
func (c *Cache) update(fn func(*badger.Txn) error) error {
	txn := c.newUpdate()
	defer txn.Discard()
	if err := fn(txn); err != nil {
		return err
	}
	return c.commitTxn(txn)
}

// newUpdate starts a read-write transaction; commitTxn commits it.
func (c *Cache) newUpdate() *badger.Txn { return c.db.NewTransactionAt(readLatest, true) }

// commitTxn commits txn at the next timestamp, and lets badger discard the
// versions it replaced (no reader looks at an older one): compaction and
// value-log GC keep only what is at or above the discard timestamp.
func (c *Cache) commitTxn(txn *badger.Txn) error {
	ts := c.commitTs.Add(1)
	if err := txn.CommitAt(ts, nil); err != nil {
		return err
	}
	// Concurrent commits may set it out of order for a moment: a lower
	// discard timestamp only keeps old versions a little longer.
	c.db.SetDiscardTs(ts)
	return nil
}
