package mse

import (
	"bytes"
	"io"
	"testing"

	amse "github.com/anacrolix/torrent/mse"
)

// TestAnacrolix checks both sides against anacrolix/torrent's mse, a
// second implementation that has met the real swarm.
func TestAnacrolix(t *testing.T) {
	ia := []byte("\x13BitTorrent protocol")
	t.Run("we initiate", func(t *testing.T) {
		a, b := tcpPair(t)
		type res struct {
			rw  io.ReadWriter
			m   amse.CryptoMethod
			err error
		}
		ch := make(chan res, 1)
		go func() {
			rw, m, err := amse.ReceiveHandshake(b, func(f func([]byte) bool) { f(skey[:]) },
				func(amse.CryptoMethod) amse.CryptoMethod { return amse.CryptoMethodRC4 })
			ch <- res{rw, m, err}
		}()
		c, err := Initiate(ctxFor(t), a, skey, Plaintext|RC4, ia)
		if err != nil {
			t.Fatal(err)
		}
		r := <-ch
		if r.err != nil || r.m != amse.CryptoMethodRC4 || c.Method() != RC4 {
			t.Fatalf("theirs: %v %v, ours %v", r.err, r.m, c.Method())
		}
		echo(t, c, r.rw, ia)
	})
	t.Run("they initiate", func(t *testing.T) {
		a, b := tcpPair(t)
		ch := make(chan result, 1)
		go func() {
			c, _, err := Receive(ctxFor(t), b, finder(skey), RC4)
			ch <- result{c, err}
		}()
		rw, m, err := amse.InitiateHandshake(a, skey[:], ia, amse.AllSupportedCrypto)
		if err != nil || m != amse.CryptoMethodRC4 {
			t.Fatalf("%v %v", err, m)
		}
		r := <-ch
		if r.err != nil {
			t.Fatal(r.err)
		}
		got := make([]byte, len(ia))
		if _, err := io.ReadFull(r.c, got); err != nil || !bytes.Equal(got, ia) {
			t.Fatalf("initial payload %q %v", got, err)
		}
		echo(t, r.c, rw, nil)
	})
}

// echo sends a message from ours to theirs and back, after the initial
// payload (which theirs reads first when it is the receiver).
func echo(t *testing.T, ours *Conn, theirs io.ReadWriter, ia []byte) {
	t.Helper()
	if ia != nil {
		got := make([]byte, len(ia))
		if _, err := io.ReadFull(theirs, got); err != nil || !bytes.Equal(got, ia) {
			t.Fatalf("initial payload %q %v", got, err)
		}
	}
	msg := bytes.Repeat([]byte("piece data "), 1000)
	go ours.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(theirs, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("ours to theirs: %v", err)
	}
	go theirs.Write(msg)
	if _, err := io.ReadFull(ours, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("theirs to ours: %v", err)
	}
}
