package fetch

import (
	"sync"

	"github.com/btfs/btfs/wire"
)

// blockPool recycles the 16 KiB buffers blocks are read into: a peer reader
// reads each block from the socket's buffer straight into one of these, and
// the buffer travels to the loop, the verifier and Storage without another
// copy.
type blockPool struct{ p sync.Pool }

func newBlockPool() *blockPool {
	return &blockPool{p: sync.Pool{New: func() any { b := make([]byte, wire.BlockSize); return &b }}}
}

func (bp *blockPool) get(n int) []byte {
	return (*bp.p.Get().(*[]byte))[:n]
}

func (bp *blockPool) put(b []byte) {
	if cap(b) != wire.BlockSize {
		return
	}
	b = b[:cap(b)]
	bp.p.Put(&b)
}
