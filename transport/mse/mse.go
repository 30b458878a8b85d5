// Package mse is BitTorrent's Message Stream Encryption (MSE, also called
// PE): a Diffie-Hellman key exchange over the 768-bit prime of the
// specification, a secret key (SKEY: the info-hash) that only peers of the
// same torrent know, and an RC4 stream (keys from SHA-1, the first 1024 bytes
// of each stream discarded) or plaintext after the obfuscated header, as the
// two sides offer and select.
//
// The handshake of one side runs on its caller's goroutine with no
// goroutine of its own; whatever the peer sends is bounded:
//
//   - a public key must lie in 2..P-2 (ErrBadKey);
//   - padding is at most MaxPad bytes (ErrBadPad), so the search for the
//     synchronisation hash or the verification constant reads at most
//     MaxPad+20 or MaxPad+8 bytes (ErrNoSync);
//   - the verification constant must be zero (ErrBadVC), the methods
//     offered or selected must be ones we allow (ErrNoMethod);
//   - the initial payload is at most MaxInitialPayload bytes (ErrBadPad).
//
// The deadline is the context's: Initiate and Receive set it on the
// connection (and clear it when done), and a cancelled context ends them.
//
// Files: mse.go (constants, keys, the connection), handshake.go (both sides
// of the handshake).
package mse

import (
	"crypto/rc4"
	"crypto/sha1"
	"errors"
	"math/big"
	"net"
	"sync"
)

// Method is a set of the ways the stream continues after the handshake
// (crypto_provide and crypto_select of the specification).
type Method uint32

// The methods of the specification.
const (
	Plaintext Method = 1 // the header is obfuscated, the rest is plain
	RC4       Method = 2 // everything is RC4-encrypted
)

// String names a single method.
func (m Method) String() string {
	switch m {
	case Plaintext:
		return "plaintext"
	case RC4:
		return "rc4"
	}
	return "none"
}

// Limits on what a peer may send during the handshake.
const (
	// MaxPad is the longest padding the specification allows (PadA to
	// PadD): the synchronisation searches read at most this much.
	MaxPad = 512
	// MaxInitialPayload bounds the initial payload (IA) a receiver takes:
	// initiators send the 68-byte BitTorrent handshake in it, or nothing;
	// 8 KiB leaves room for a bitfield sent along and keeps the memory of
	// a handshake in progress small.
	MaxInitialPayload = 8 << 10
	// keySize is the length of a public key and of the shared secret S:
	// 768 bits.
	keySize = 96
	// privateBits is the length of a private key: 160 bits, as the
	// specification recommends.
	privateBits = 160
	// discard is how much of each RC4 stream is thrown away before use:
	// its first bytes leak the key.
	discard = 1024
)

// Errors of a failed handshake; wrapped with the step that failed.
var (
	ErrBadKey   = errors.New("mse: bad public key")
	ErrNoSync   = errors.New("mse: synchronisation not found within the padding limit")
	ErrBadVC    = errors.New("mse: bad verification constant")
	ErrBadPad   = errors.New("mse: padding or payload over the limit")
	ErrNoMethod = errors.New("mse: no acceptable method")
	ErrNoSKey   = errors.New("mse: unknown secret key (torrent)")
)

var (
	prime = func() *big.Int {
		p, _ := new(big.Int).SetString("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563", 16)
		return p
	}()
	generator = big.NewInt(2)
	// primeMinus1 bounds valid public keys (1 and P-1 give a known S).
	primeMinus1 = new(big.Int).Sub(prime, big.NewInt(1))
)

// hash is SHA-1 over the concatenation of parts.
func hash(parts ...[]byte) [20]byte {
	h := sha1.New()
	for _, p := range parts {
		h.Write(p)
	}
	var out [20]byte
	h.Sum(out[:0])
	return out
}

// SKeyHash is HASH('req2', SKEY), what a receiver finds a torrent by: a
// listener serving many torrents may keep these in a map.
func SKeyHash(skey [20]byte) [20]byte { return hash([]byte("req2"), skey[:]) }

// newCipher returns the RC4 stream keyed by HASH(name, S, SKEY), its first
// 1024 bytes discarded.
func newCipher(name string, s []byte, skey [20]byte) *rc4.Cipher {
	c, _ := rc4.NewCipher(func() []byte { h := hash([]byte(name), s, skey[:]); return h[:] }()) // a 20-byte key is valid
	var burn [discard]byte
	c.XORKeyStream(burn[:], burn[:])
	return c
}

// writeChunk bounds the buffer a Conn encrypts a write into.
const writeChunk = 64 << 10

// Conn is a connection after the handshake: reads and writes are decrypted
// and encrypted when the method is RC4, passed through for Plaintext.
// Bytes that arrived with the handshake are returned first. One goroutine
// may read while another writes.
type Conn struct {
	net.Conn
	method  Method
	pending []byte      // plain bytes received during the handshake, read first
	dec     *rc4.Cipher // nil for Plaintext; used by the reader only

	wmu  sync.Mutex // guards enc, wbuf
	enc  *rc4.Cipher
	wbuf []byte
}

// Method is the method the handshake selected.
func (c *Conn) Method() Method { return c.method }

// Encrypted reports whether the stream is RC4-encrypted (not only its
// header).
func (c *Conn) Encrypted() bool { return c.method == RC4 }

// Read reads plain bytes.
func (c *Conn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
		return n, nil
	}
	n, err := c.Conn.Read(p)
	if c.dec != nil && n > 0 {
		c.dec.XORKeyStream(p[:n], p[:n])
	}
	return n, err
}

// Write writes p, encrypted for RC4. After a failed write the stream is
// out of step and the connection must be closed.
func (c *Conn) Write(p []byte) (int, error) {
	if c.enc == nil {
		return c.Conn.Write(p)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	written := 0
	for len(p) > 0 {
		n := min(len(p), writeChunk)
		if len(c.wbuf) < n {
			c.wbuf = make([]byte, min(max(n, 4<<10), writeChunk))
		}
		c.enc.XORKeyStream(c.wbuf[:n], p[:n])
		m, err := c.Conn.Write(c.wbuf[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}
