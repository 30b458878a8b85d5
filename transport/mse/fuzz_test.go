package mse

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// fuzzTimeout ends a handshake the fuzzed peer leaves waiting.
const fuzzTimeout = 200 * time.Millisecond

// drain reads c until it ends, so that the other side's writes never
// block on a net.Pipe, and hands over the first keySize bytes (the peer's
// public key); the channel is closed if they never come.
func drain(c net.Conn) <-chan []byte {
	keys := make(chan []byte, 1)
	go func() {
		defer close(keys)
		key := make([]byte, keySize)
		if _, err := io.ReadFull(c, key); err != nil {
			return
		}
		keys <- key
		io.Copy(io.Discard, c)
	}()
	return keys
}

// FuzzReceive plays an initiator that sends a valid key and then data:
// raw (garbage after the DH key) when raw is set, otherwise a valid
// synchronisation hash and torrent, followed by data encrypted as the
// request (VC, crypto_provide, PadC, IA), so that the fuzzer reaches the
// parsing of every field. Receive must fail or succeed, never panic or
// hang past its deadline.
func FuzzReceive(f *testing.F) {
	req := func(provide Method, padC, ialen uint16) []byte {
		b := binary.BigEndian.AppendUint32(vc[:], uint32(provide))
		b = binary.BigEndian.AppendUint16(b, padC)
		b = append(b, make([]byte, min(padC, 600))...)
		b = binary.BigEndian.AppendUint16(b, ialen)
		return append(b, make([]byte, min(ialen, 100))...)
	}
	f.Add(false, req(RC4, 0, 0))
	f.Add(false, req(Plaintext|RC4, 12, 68))
	f.Add(false, req(RC4, 513, 0))
	f.Add(false, req(RC4, 0, 65535))
	f.Add(false, req(0, 0, 0))
	f.Add(true, []byte("garbage after the key"))
	f.Fuzz(func(t *testing.T, raw bool, data []byte) {
		a, b := net.Pipe()
		keys := drain(a)
		go func() {
			defer a.Close()
			x, pub := keyPair()
			if _, err := a.Write(pub); err != nil {
				return
			}
			if raw {
				a.Write(data)
				return
			}
			peer, ok := <-keys
			if !ok {
				return
			}
			s, err := secret(x, peer)
			if err != nil {
				return
			}
			req1, req2, req3 := hash([]byte("req1"), s), SKeyHash(skey), hash([]byte("req3"), s)
			msg := append([]byte(nil), req1[:]...)
			for i := range req2 {
				msg = append(msg, req2[i]^req3[i])
			}
			enc := append([]byte(nil), data...)
			newCipher("keyA", s, skey).XORKeyStream(enc, enc)
			a.Write(append(msg, enc...))
		}()
		ctx, cancel := context.WithTimeout(context.Background(), fuzzTimeout)
		defer cancel()
		c, _, err := Receive(ctx, b, finder(skey), Plaintext|RC4)
		b.Close()
		if err == nil && c.Method() != RC4 && c.Method() != Plaintext {
			t.Fatalf("selected %v", c.Method())
		}
	})
}

// FuzzInitiate plays a receiver that sends a valid key and then data,
// encrypted as an answer (VC, crypto_select, PadD) unless raw.
func FuzzInitiate(f *testing.F) {
	answer := func(sel Method, padD uint16) []byte {
		b := binary.BigEndian.AppendUint32(vc[:], uint32(sel))
		b = binary.BigEndian.AppendUint16(b, padD)
		return append(b, make([]byte, min(padD, 600))...)
	}
	f.Add(false, answer(RC4, 0))
	f.Add(false, answer(Plaintext, 3))
	f.Add(false, answer(RC4|Plaintext, 0))
	f.Add(false, answer(RC4, 513))
	f.Add(true, []byte("garbage after the key"))
	f.Fuzz(func(t *testing.T, raw bool, data []byte) {
		a, b := net.Pipe()
		keys := drain(b)
		go func() {
			defer b.Close()
			peer, ok := <-keys
			if !ok {
				return
			}
			x, pub := keyPair()
			if raw {
				b.Write(append(pub, data...))
				return
			}
			s, err := secret(x, peer)
			if err != nil {
				return
			}
			enc := append([]byte(nil), data...)
			newCipher("keyB", s, skey).XORKeyStream(enc, enc)
			b.Write(append(pub, enc...))
		}()
		ctx, cancel := context.WithTimeout(context.Background(), fuzzTimeout)
		defer cancel()
		c, err := Initiate(ctx, a, skey, Plaintext|RC4, nil)
		a.Close()
		if err == nil && c.Method() != RC4 && c.Method() != Plaintext {
			t.Fatalf("selected %v", c.Method())
		}
	})
}
