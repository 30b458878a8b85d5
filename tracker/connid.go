package tracker

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"time"
)

// connIDs mints and checks BEP 15 connection ids without remembering them.
//
// The connect handshake exists so that an announce cannot come from a forged
// source address: the client must have received our connect reply there. An
// id is therefore a MAC of the client's IP and the current udpConnIDWindow
// under a key drawn at start-up; a valid id proves the handshake happened
// recently, and checking it needs no per-client state for an attacker to
// fill. The port is left out because clients may open a new socket for
// each request (ours does).
//
// The MAC is CBC-MAC over AES-128 with a fixed two-block input (IP, then
// window), a secure PRF for fixed-length messages and two AES-NI block
// operations: a few tens of nanoseconds.
type connIDs struct {
	block cipher.Block
}

func newConnIDs() connIDs {
	var key [16]byte
	rand.Read(key[:]) // never fails (crypto/rand, Go 1.24+)
	return connIDsWithKey(key)
}

// connIDsWithKey is newConnIDs with a chosen key, for tests and fuzzing
// that need ids to stay valid from one run to the next.
func connIDsWithKey(key [16]byte) connIDs {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic("tracker: aes: " + err.Error()) // a 16-byte key cannot be refused
	}
	return connIDs{block: block}
}

// mint returns the id for ip at now. tmp is scratch space: Encrypt is an
// interface call, so a local buffer would move to the heap on every call.
func (c connIDs) mint(ip netip.Addr, now time.Time, tmp *[16]byte) uint64 {
	return c.mac(ip, window(now), tmp)
}

// valid reports whether id was minted for ip in this window or the last.
func (c connIDs) valid(id uint64, ip netip.Addr, now time.Time, tmp *[16]byte) bool {
	w := window(now)
	return id == c.mac(ip, w, tmp) || id == c.mac(ip, w-1, tmp)
}

func window(now time.Time) uint64 {
	return uint64(now.Unix() / int64(udpConnIDWindow/time.Second))
}

func (c connIDs) mac(ip netip.Addr, w uint64, b *[16]byte) uint64 {
	*b = ip.Unmap().As16()
	c.block.Encrypt(b[:], b[:])
	binary.BigEndian.PutUint64(b[8:], binary.BigEndian.Uint64(b[8:])^w)
	c.block.Encrypt(b[:], b[:])
	return binary.BigEndian.Uint64(b[:8])
}
