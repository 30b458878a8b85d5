package mse

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/leakcheck"
)

func TestMain(m *testing.M) {
	os.Exit(leakcheck.Main(m, "btfs/btfs/transport/mse."))
}

// tcpPair returns both ends of a loopback TCP connection, closed at the end.
func tcpPair(t testing.TB) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var skey = [20]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}

// finder knows the given keys.
func finder(keys ...[20]byte) func([20]byte) ([20]byte, bool) {
	return func(h [20]byte) ([20]byte, bool) {
		for _, k := range keys {
			if SKeyHash(k) == h {
				return k, true
			}
		}
		return [20]byte{}, false
	}
}

type result struct {
	c   *Conn
	err error
}

// handshake runs both sides on a loopback pair.
func handshake(t *testing.T, provide, allow Method, ia []byte) (init, recv result) {
	a, b := tcpPair(t)
	ctx := ctxFor(t)
	ch := make(chan result, 1)
	go func() {
		c, _, err := Receive(ctx, b, finder([20]byte{9}, skey), allow)
		if err != nil {
			b.Close() // as a listener would: the initiator sees the end
		}
		ch <- result{c, err}
	}()
	c, err := Initiate(ctx, a, skey, provide, ia)
	return result{c, err}, <-ch
}

func TestMethods(t *testing.T) {
	for _, tc := range []struct {
		name           string
		provide, allow Method
		want           Method // 0: the handshake fails
	}{
		{"both offered, both allowed: rc4", Plaintext | RC4, Plaintext | RC4, RC4},
		{"rc4 only", RC4, Plaintext | RC4, RC4},
		{"plaintext only", Plaintext, Plaintext | RC4, Plaintext},
		{"receiver allows plaintext only", Plaintext | RC4, Plaintext, Plaintext},
		{"receiver requires rc4", Plaintext, RC4, 0},
		{"initiator requires rc4", RC4, Plaintext, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ia := []byte("initial payload")
			init, recv := handshake(t, tc.provide, tc.allow, ia)
			if tc.want == 0 {
				if recv.err == nil || !errors.Is(recv.err, ErrNoMethod) {
					t.Fatalf("receiver: %v, want ErrNoMethod", recv.err)
				}
				if init.err == nil {
					t.Fatal("initiator succeeded")
				}
				return
			}
			if init.err != nil || recv.err != nil {
				t.Fatalf("initiator: %v, receiver: %v", init.err, recv.err)
			}
			if init.c.Method() != tc.want || recv.c.Method() != tc.want {
				t.Fatalf("methods %v/%v, want %v", init.c.Method(), recv.c.Method(), tc.want)
			}
			exchange(t, init.c, recv.c, ia)
		})
	}
}

// exchange checks that the initial payload arrives first, then a large
// stream both ways.
func exchange(t *testing.T, a, b *Conn, ia []byte) {
	t.Helper()
	got := make([]byte, len(ia))
	if _, err := io.ReadFull(b, got); err != nil || !bytes.Equal(got, ia) {
		t.Fatalf("initial payload %q, %v", got, err)
	}
	data := make([]byte, 256<<10+7)
	rand.Read(data)
	for _, dir := range [][2]*Conn{{a, b}, {b, a}} {
		errc := make(chan error, 1)
		go func() { _, err := dir[0].Write(data); errc <- err }()
		got := make([]byte, len(data))
		if _, err := io.ReadFull(dir[1], got); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("stream corrupted")
		}
	}
}

func TestUnknownTorrent(t *testing.T) {
	a, b := tcpPair(t)
	ctx := ctxFor(t)
	ch := make(chan error, 1)
	go func() {
		_, _, err := Receive(ctx, b, finder([20]byte{9}), RC4)
		b.Close()
		ch <- err
	}()
	if _, err := Initiate(ctx, a, skey, RC4, nil); err == nil {
		t.Fatal("initiator succeeded")
	}
	if err := <-ch; !errors.Is(err, ErrNoSKey) {
		t.Fatalf("receiver: %v, want ErrNoSKey", err)
	}
}

// TestEncrypted checks that RC4 hides the payload on the wire.
func TestEncrypted(t *testing.T) {
	a, b := tcpPair(t)
	ctx := ctxFor(t)
	ch := make(chan result, 1)
	go func() {
		c, _, err := Receive(ctx, b, finder(skey), RC4)
		ch <- result{c, err}
	}()
	c, err := Initiate(ctx, a, skey, RC4, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	msg := bytes.Repeat([]byte("\x13BitTorrent protocol"), 10)
	go c.Write(msg)
	raw := make([]byte, len(msg))
	if _, err := io.ReadFull(b, raw); err != nil { // under the Conn: ciphertext
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("BitTorrent")) {
		t.Fatal("plaintext on the wire")
	}
}

// TestSilentPeer checks that the context's deadline ends a handshake whose
// peer says nothing.
func TestSilentPeer(t *testing.T) {
	a, _ := tcpPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := Receive(ctx, a, finder(skey), RC4)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

// TestGarbage checks the limits: a bad key, garbage after a good key, and
// too much padding.
func TestGarbage(t *testing.T) {
	t.Run("key out of range", func(t *testing.T) {
		a, b := tcpPair(t)
		go a.Write(make([]byte, keySize)) // zero
		if _, _, err := Receive(ctxFor(t), b, finder(skey), RC4); !errors.Is(err, ErrBadKey) {
			t.Fatalf("err %v, want ErrBadKey", err)
		}
	})
	t.Run("garbage after the key", func(t *testing.T) {
		a, b := tcpPair(t)
		_, pub := keyPair()
		junk := make([]byte, 64<<10)
		rand.Read(junk)
		go func() {
			a.Write(append(pub, junk...))
			io.Copy(io.Discard, a)
		}()
		if _, _, err := Receive(ctxFor(t), b, finder(skey), RC4); !errors.Is(err, ErrNoSync) {
			t.Fatalf("err %v, want ErrNoSync", err)
		}
	})
	t.Run("initiator: garbage after the key", func(t *testing.T) {
		a, b := tcpPair(t)
		_, pub := keyPair()
		junk := make([]byte, 64<<10)
		rand.Read(junk)
		go func() {
			b.Write(append(pub, junk...))
			io.Copy(io.Discard, b)
		}()
		if _, err := Initiate(ctxFor(t), a, skey, RC4, nil); !errors.Is(err, ErrNoSync) {
			t.Fatalf("err %v, want ErrNoSync", err)
		}
	})
}
