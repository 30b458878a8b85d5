package wire

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/leakcheck"
)

// TestMain fails the run if a goroutine running this package's code (a
// test's pipe writer, say) outlives the tests.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.Main(m, "btfs/btfs/wire."))
}

// pipe returns both ends of a net.Pipe, with a deadline so that a protocol
// deadlock fails the test instead of hanging it, closed at the end.
func pipe(t testing.TB) (a, b net.Conn) {
	t.Helper()
	a, b = net.Pipe()
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range []net.Conn{a, b} {
		if err := c.SetDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	return a, b
}

// goErr runs f in a goroutine and returns a channel with its error.
func goErr(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

// raw builds a message frame by hand: the length prefix counts id and body
// unless length is given (>= 0) to forge a wrong one.
func raw(length int, id ID, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	if length < 0 {
		length = 1 + len(b)
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(length))
	out = append(out, byte(id))
	return append(out, b...)
}

// u32 and u16 are big-endian integers, for building bodies.
func u32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// sameMessage compares messages, with nil and empty slices equal.
func sameMessage(a, b Message) bool {
	return a.KeepAlive == b.KeepAlive && a.ID == b.ID && a.Index == b.Index && a.Begin == b.Begin &&
		a.Length == b.Length && bytes.Equal(a.Block, b.Block) && bytes.Equal(a.Bitfield, b.Bitfield) &&
		a.Port == b.Port && a.ExtendedID == b.ExtendedID && bytes.Equal(a.Payload, b.Payload)
}

// cloneMessage copies the slices a Reader lends.
func cloneMessage(m Message) Message {
	m.Block = bytes.Clone(m.Block)
	m.Bitfield = bytes.Clone(m.Bitfield)
	m.Payload = bytes.Clone(m.Payload)
	return m
}

// pattern returns n bytes that differ from block to block.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed*13 + i>>8)
	}
	return b
}
