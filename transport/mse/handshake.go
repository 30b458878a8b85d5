package mse

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"time"
)

// bufSize is the handshake's read buffer: room for a public key, the
// longest padding and the hash after it, read in one piece.
const bufSize = 2048

// vc is the verification constant: eight zero bytes.
var vc [8]byte

// reader reads the handshake from the connection through a buffer, and
// keeps what it read past the handshake for the Conn.
type reader struct {
	c    net.Conn
	buf  [bufSize]byte
	r, w int // unread bytes are buf[r:w]
}

// fill reads at least once more, compacting the buffer first.
func (r *reader) fill() error {
	if r.r > 0 {
		r.w = copy(r.buf[:], r.buf[r.r:r.w])
		r.r = 0
	}
	n, err := r.c.Read(r.buf[r.w:])
	r.w += n
	if n > 0 {
		return nil
	}
	return err
}

// full copies the next len(dst) bytes into dst.
func (r *reader) full(dst []byte) error {
	for len(dst) > 0 {
		if r.r == r.w {
			if err := r.fill(); err != nil {
				return err
			}
		}
		n := copy(dst, r.buf[r.r:r.w])
		r.r += n
		dst = dst[n:]
	}
	return nil
}

// sync consumes bytes up to and including pat, which must begin within the
// next MaxPad bytes.
func (r *reader) sync(pat []byte) error {
	limit := MaxPad + len(pat)
	for {
		avail := r.buf[r.r:r.w]
		if i := bytes.Index(avail[:min(len(avail), limit)], pat); i >= 0 {
			r.r += i + len(pat)
			return nil
		}
		if len(avail) >= limit {
			return ErrNoSync
		}
		if err := r.fill(); err != nil {
			return err
		}
	}
}

// rest returns the bytes read past the handshake.
func (r *reader) rest() []byte {
	if r.r == r.w {
		return nil
	}
	return append([]byte(nil), r.buf[r.r:r.w]...)
}

// keyPair returns a private key and its public key, 96 bytes big-endian.
func keyPair() (*big.Int, []byte) {
	var b [privateBits / 8]byte
	rand.Read(b[:])
	x := new(big.Int).SetBytes(b[:])
	y := new(big.Int).Exp(generator, x, prime)
	return x, y.FillBytes(make([]byte, keySize))
}

// secret returns S from the peer's public key, refusing keys outside
// 2..P-2, which would give a secret anyone can compute.
func secret(x *big.Int, peer []byte) ([]byte, error) {
	y := new(big.Int).SetBytes(peer)
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(primeMinus1) >= 0 {
		return nil, ErrBadKey
	}
	return new(big.Int).Exp(y, x, prime).FillBytes(make([]byte, keySize)), nil
}

// sendKey writes the public key and random padding.
func sendKey(c net.Conn, pub []byte) error {
	pad := make([]byte, mrand.IntN(MaxPad+1))
	rand.Read(pad)
	_, err := c.Write(append(pub, pad...))
	return err
}

// guard sets the context's deadline on c and makes cancelling the context
// end a blocked read or write; done clears both and reports ctx's error if
// it ended the handshake.
func guard(ctx context.Context, c net.Conn) (done func(error) error) {
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	return func(err error) error {
		if !stop() && ctx.Err() != nil {
			return fmt.Errorf("mse: %w", ctx.Err())
		}
		c.SetDeadline(time.Time{})
		return err
	}
}

// single reports whether m is exactly one method.
func single(m Method) bool { return m == Plaintext || m == RC4 }

// Initiate runs the initiator's side on c for the torrent skey (its
// info-hash), offering the methods in provide, and sends ia (the start of
// the stream, up to MaxInitialPayload bytes; may be nil) within the
// handshake. The returned Conn carries the rest of the stream.
func Initiate(ctx context.Context, c net.Conn, skey [20]byte, provide Method, ia []byte) (*Conn, error) {
	done := guard(ctx, c)
	conn, err := initiate(c, skey, provide, ia)
	return conn, done(err)
}

func initiate(c net.Conn, skey [20]byte, provide Method, ia []byte) (*Conn, error) {
	if provide&(Plaintext|RC4) == 0 || len(ia) > MaxInitialPayload {
		return nil, fmt.Errorf("mse: initiate: %w", ErrNoMethod)
	}
	x, pub := keyPair()
	if err := sendKey(c, pub); err != nil {
		return nil, fmt.Errorf("mse: send key: %w", err)
	}
	r := &reader{c: c}
	var peer [keySize]byte
	if err := r.full(peer[:]); err != nil {
		return nil, fmt.Errorf("mse: read key: %w", err)
	}
	s, err := secret(x, peer[:])
	if err != nil {
		return nil, err
	}
	enc, dec := newCipher("keyA", s, skey), newCipher("keyB", s, skey)
	req1, req2, req3 := hash([]byte("req1"), s), SKeyHash(skey), hash([]byte("req3"), s)
	msg := make([]byte, 0, 40+16+len(ia))
	msg = append(msg, req1[:]...)
	for i := range req2 {
		msg = append(msg, req2[i]^req3[i])
	}
	plain := binary.BigEndian.AppendUint32(vc[:], uint32(provide))
	plain = binary.BigEndian.AppendUint16(plain, 0) // no PadC
	plain = binary.BigEndian.AppendUint16(plain, uint16(len(ia)))
	plain = append(plain, ia...)
	enc.XORKeyStream(plain, plain)
	if _, err := c.Write(append(msg, plain...)); err != nil {
		return nil, fmt.Errorf("mse: send request: %w", err)
	}
	var evc [8]byte
	dec.XORKeyStream(evc[:], vc[:])
	if err := r.sync(evc[:]); err != nil {
		return nil, fmt.Errorf("mse: find the answer: %w", err)
	}
	var head [6]byte
	if err := r.full(head[:]); err != nil {
		return nil, fmt.Errorf("mse: read the answer: %w", err)
	}
	dec.XORKeyStream(head[:], head[:])
	sel := Method(binary.BigEndian.Uint32(head[:4]))
	if !single(sel) || sel&provide == 0 {
		return nil, fmt.Errorf("%w: the peer selected %#x of %#x", ErrNoMethod, uint32(sel), uint32(provide))
	}
	if err := skip(r, dec, int(binary.BigEndian.Uint16(head[4:]))); err != nil {
		return nil, fmt.Errorf("mse: PadD: %w", err)
	}
	conn := &Conn{Conn: c, method: sel, pending: r.rest()}
	if sel == RC4 {
		conn.enc, conn.dec = enc, dec
		dec.XORKeyStream(conn.pending, conn.pending)
	}
	return conn, nil
}

// skip reads and deciphers n bytes of padding (at most MaxPad).
func skip(r *reader, dec interface{ XORKeyStream(dst, src []byte) }, n int) error {
	if n > MaxPad {
		return fmt.Errorf("%w: %d bytes", ErrBadPad, n)
	}
	var pad [MaxPad]byte
	if err := r.full(pad[:n]); err != nil {
		return err
	}
	dec.XORKeyStream(pad[:n], pad[:n])
	return nil
}

// Receive runs the receiver's side on c. find returns the secret key (the
// info-hash) whose SKeyHash is h, if we serve it; allow is the methods we
// accept, of which RC4 is chosen when the peer offers it. The returned Conn
// starts with the initial payload; skey is the torrent found.
func Receive(ctx context.Context, c net.Conn, find func(h [20]byte) (skey [20]byte, ok bool), allow Method) (conn *Conn, skey [20]byte, err error) {
	done := guard(ctx, c)
	conn, skey, err = receive(c, find, allow)
	return conn, skey, done(err)
}

func receive(c net.Conn, find func(h [20]byte) ([20]byte, bool), allow Method) (*Conn, [20]byte, error) {
	var skey [20]byte
	r := &reader{c: c}
	var peer [keySize]byte
	if err := r.full(peer[:]); err != nil {
		return nil, skey, fmt.Errorf("mse: read key: %w", err)
	}
	x, pub := keyPair()
	s, err := secret(x, peer[:])
	if err != nil {
		return nil, skey, err
	}
	if err := sendKey(c, pub); err != nil {
		return nil, skey, fmt.Errorf("mse: send key: %w", err)
	}
	req1 := hash([]byte("req1"), s)
	if err := r.sync(req1[:]); err != nil {
		return nil, skey, fmt.Errorf("mse: find the request: %w", err)
	}
	var h [20]byte
	if err := r.full(h[:]); err != nil {
		return nil, skey, fmt.Errorf("mse: read the request: %w", err)
	}
	req3 := hash([]byte("req3"), s)
	for i := range h {
		h[i] ^= req3[i]
	}
	skey, ok := find(h)
	if !ok {
		return nil, skey, ErrNoSKey
	}
	dec, enc := newCipher("keyA", s, skey), newCipher("keyB", s, skey)
	var head [14]byte
	if err := r.full(head[:]); err != nil {
		return nil, skey, fmt.Errorf("mse: read the request: %w", err)
	}
	dec.XORKeyStream(head[:], head[:])
	if !bytes.Equal(head[:8], vc[:]) {
		return nil, skey, ErrBadVC
	}
	provide := Method(binary.BigEndian.Uint32(head[8:12]))
	if err := skip(r, dec, int(binary.BigEndian.Uint16(head[12:]))); err != nil {
		return nil, skey, fmt.Errorf("mse: PadC: %w", err)
	}
	var n [2]byte
	if err := r.full(n[:]); err != nil {
		return nil, skey, fmt.Errorf("mse: read the request: %w", err)
	}
	dec.XORKeyStream(n[:], n[:])
	ialen := int(binary.BigEndian.Uint16(n[:]))
	if ialen > MaxInitialPayload {
		return nil, skey, fmt.Errorf("%w: initial payload of %d bytes", ErrBadPad, ialen)
	}
	ia := make([]byte, ialen)
	if err := r.full(ia); err != nil {
		return nil, skey, fmt.Errorf("mse: read the initial payload: %w", err)
	}
	dec.XORKeyStream(ia, ia)
	var sel Method
	switch both := provide & allow; {
	case both&RC4 != 0:
		sel = RC4
	case both&Plaintext != 0:
		sel = Plaintext
	default:
		return nil, skey, fmt.Errorf("%w: the peer offers %#x, we allow %#x", ErrNoMethod, uint32(provide), uint32(allow))
	}
	answer := binary.BigEndian.AppendUint32(vc[:], uint32(sel))
	answer = binary.BigEndian.AppendUint16(answer, 0) // no PadD
	enc.XORKeyStream(answer, answer)
	if _, err := c.Write(answer); err != nil {
		return nil, skey, fmt.Errorf("mse: send the answer: %w", err)
	}
	rest := r.rest()
	conn := &Conn{Conn: c, method: sel}
	if sel == RC4 {
		conn.enc, conn.dec = enc, dec
		dec.XORKeyStream(rest, rest)
	}
	conn.pending = append(ia, rest...)
	if len(conn.pending) == 0 {
		conn.pending = nil
	}
	return conn, skey, nil
}
