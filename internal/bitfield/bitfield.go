// Package bitfield is a fixed-size set of piece indexes in the wire format of
// BEP 3: the high bit of the first byte is piece 0, and spare bits at the end
// are zero.
package bitfield

import (
	"errors"
	"fmt"
	"math/bits"
)

// Bitfield is a set of piece indexes in [0, Len()).
type Bitfield struct {
	b []byte
	n int
}

// New returns an empty bitfield for n pieces.
func New(n int) Bitfield {
	return Bitfield{b: make([]byte, (n+7)/8), n: n}
}

// ErrSpareBits reports a wire bitfield with bits set past the last piece.
var ErrSpareBits = errors.New("bitfield: spare bits set")

// FromBytes copies a wire bitfield for n pieces, checking its length and that
// its spare bits are clear (BEP 3 says a peer that sends either is dropped).
func FromBytes(b []byte, n int) (Bitfield, error) {
	if len(b) != (n+7)/8 {
		return Bitfield{}, fmt.Errorf("bitfield: %d bytes for %d pieces, want %d", len(b), n, (n+7)/8)
	}
	if n%8 != 0 && b[len(b)-1]&(0xff>>(n%8)) != 0 {
		return Bitfield{}, ErrSpareBits
	}
	bf := New(n)
	copy(bf.b, b)
	return bf, nil
}

// Len is the number of pieces the bitfield covers.
func (bf Bitfield) Len() int { return bf.n }

// Has reports whether piece i is in the set; out-of-range indexes are not.
func (bf Bitfield) Has(i int) bool {
	return i >= 0 && i < bf.n && bf.b[i>>3]&(0x80>>(i&7)) != 0
}

// Set adds piece i.
func (bf Bitfield) Set(i int) { bf.b[i>>3] |= 0x80 >> (i & 7) }

// Clear removes piece i.
func (bf Bitfield) Clear(i int) { bf.b[i>>3] &^= 0x80 >> (i & 7) }

// Count is the number of pieces in the set.
func (bf Bitfield) Count() int {
	c := 0
	for _, x := range bf.b {
		c += bits.OnesCount8(x)
	}
	return c
}

// Full reports whether every piece is in the set.
func (bf Bitfield) Full() bool { return bf.Count() == bf.n }

// Bytes returns the wire form. It shares memory with bf.
func (bf Bitfield) Bytes() []byte { return bf.b }

// Clone returns an independent copy.
func (bf Bitfield) Clone() Bitfield {
	c := New(bf.n)
	copy(c.b, bf.b)
	return c
}

// SetAll adds every piece.
func (bf Bitfield) SetAll() {
	for i := range bf.b {
		bf.b[i] = 0xff
	}
	if bf.n%8 != 0 {
		bf.b[len(bf.b)-1] = 0xff << (8 - bf.n%8)
	}
}
