package mse

import (
	"context"
	"io"
	"testing"
)

// BenchmarkStream measures one direction of a loopback TCP stream through
// a Conn: plaintext (the cost of the wrapper) and RC4.
func BenchmarkStream(b *testing.B) {
	for _, m := range []Method{Plaintext, RC4} {
		b.Run(m.String(), func(b *testing.B) {
			x, y := tcpPair(b)
			ch := make(chan *Conn, 1)
			go func() {
				c, _, _ := Receive(context.Background(), y, finder(skey), m)
				ch <- c
			}()
			w, err := Initiate(context.Background(), x, skey, m, nil)
			if err != nil {
				b.Fatal(err)
			}
			r := <-ch
			if r == nil {
				b.Fatal("receive failed")
			}
			buf := make([]byte, 64<<10)
			done := make(chan struct{})
			go func() {
				defer close(done)
				io.CopyN(io.Discard, r, int64(b.N)*int64(len(buf)))
			}()
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for range b.N {
				if _, err := w.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			<-done
		})
	}
}
