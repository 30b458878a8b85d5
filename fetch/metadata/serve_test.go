package metadata

import (
	"bytes"
	"errors"
	"testing"

	"github.com/btfs/btfs/wire"
)

func TestServe(t *testing.T) {
	info := bytes.Repeat([]byte("0123456789"), 4000) // 40,000 bytes: pieces of 16384, 16384, 7232
	req := func(p int) []byte { return encode(t, wire.MetadataMessage{Type: wire.MetadataRequest, Piece: p}) }
	for _, tc := range []struct {
		name    string
		info    []byte
		payload []byte
		want    *wire.MetadataMessage // nil: no reply
		err     bool
	}{
		{"first piece", info, req(0), &wire.MetadataMessage{Type: wire.MetadataData, Piece: 0, TotalSize: len(info), Data: info[:16384]}, false},
		{"last piece", info, req(2), &wire.MetadataMessage{Type: wire.MetadataData, Piece: 2, TotalSize: len(info), Data: info[32768:]}, false},
		{"past the end", info, req(3), nil, true},
		{"no metadata yet", nil, req(0), &wire.MetadataMessage{Type: wire.MetadataReject, Piece: 0}, false},
		{"no metadata yet, any piece under the cap", nil, req(1023), &wire.MetadataMessage{Type: wire.MetadataReject, Piece: 1023}, false},
		{"over the cap", make([]byte, wire.MaxMetadataSize+1), req(0), &wire.MetadataMessage{Type: wire.MetadataReject, Piece: 0}, false},
		{"a reject is not answered", info, encode(t, wire.MetadataMessage{Type: wire.MetadataReject, Piece: 1}), nil, false},
		{"data is not answered", info, encode(t, wire.MetadataMessage{Type: wire.MetadataData, Piece: 2, TotalSize: len(info), Data: info[32768:]}), nil, false},
		{"an unknown msg_type is not answered", info, []byte("d8:msg_typei9e5:piecei0ee"), nil, false},
		{"garbage", info, []byte("i1e"), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Serve(tc.info, tc.payload)
			if tc.err {
				if !errors.Is(err, wire.ErrBadMetadata) {
					t.Fatalf("got %q, %v; want wire.ErrBadMetadata", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if got != nil {
					t.Fatalf("replied %q, want nothing", got)
				}
				return
			}
			if want := encode(t, *tc.want); !bytes.Equal(got, want) {
				t.Fatalf("replied %.80q, want %.80q", got, want)
			}
		})
	}
}

func TestAdvertise(t *testing.T) {
	h := wire.ExtendedHandshake{M: map[string]int{"ut_pex": 1}, Version: "btfs"}
	Advertise(&h, 31337)
	if h.M[wire.MetadataExtension] != LocalExtendedID || h.M["ut_pex"] != 1 || h.MetadataSize != 31337 {
		t.Fatalf("got %+v", h)
	}
	var none wire.ExtendedHandshake
	Advertise(&none, 0)
	if none.M[wire.MetadataExtension] != LocalExtendedID || none.MetadataSize != 0 {
		t.Fatalf("without metadata: %+v", none)
	}
	var huge wire.ExtendedHandshake
	Advertise(&huge, wire.MaxMetadataSize+1)
	if huge.MetadataSize != 0 {
		t.Fatalf("metadata over the cap advertised: %+v", huge)
	}
}

// TestAssembly walks one attempt through its pieces, then a restart.
func TestAssembly(t *testing.T) {
	a, b := &session{id: 1}, &session{id: 2}
	size := 2*wire.MetadataPieceSize + 10
	asm := newAssembly(size, 1)
	if p := asm.next(); p != 0 {
		t.Fatalf("next %d, want 0", p)
	}
	asm.asked[0], asm.asked[1] = true, true
	if p := asm.next(); p != 2 {
		t.Fatalf("next %d with 0 and 1 asked, want 2", p)
	}
	if asm.put(1, bytes.Repeat([]byte{1}, wire.MetadataPieceSize), b) {
		t.Fatal("complete after one piece")
	}
	if asm.put(2, bytes.Repeat([]byte{2}, 10), a) {
		t.Fatal("complete after two pieces")
	}
	if asm.put(1, bytes.Repeat([]byte{9}, wire.MetadataPieceSize), a) || asm.buf[wire.MetadataPieceSize] != 1 {
		t.Fatal("a piece sent twice counted twice, or replaced the first")
	}
	if p := asm.next(); p != -1 {
		t.Fatalf("next %d with 0 asked and the rest in, want -1", p)
	}
	if !asm.put(0, bytes.Repeat([]byte{0}, wire.MetadataPieceSize), a) {
		t.Fatal("not complete with every piece in")
	}
	if got := asm.contributors(); len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("contributors %v, want a then b", got)
	}
	want := append(append(bytes.Repeat([]byte{0}, wire.MetadataPieceSize), bytes.Repeat([]byte{1}, wire.MetadataPieceSize)...), bytes.Repeat([]byte{2}, 10)...)
	if !bytes.Equal(asm.buf, want) {
		t.Fatal("assembled bytes differ")
	}
	asm.restart(2)
	if asm.gen != 2 || asm.complete() || asm.next() != 0 || asm.contributors() != nil || len(asm.buf) != size {
		t.Fatalf("after restart: %+v", asm)
	}
}

func TestMostClaimed(t *testing.T) {
	peers := func(sizes ...int) []*session {
		var out []*session
		for i, s := range sizes {
			out = append(out, &session{id: i, size: s})
		}
		return out
	}
	for _, tc := range []struct {
		sizes []int
		want  int
	}{
		{[]int{5}, 5}, {[]int{5, 7, 7}, 7}, {[]int{5, 7}, 5}, {[]int{7, 5, 5, 7}, 7}, {[]int{1, 2, 3, 3, 2}, 2},
	} {
		if got := mostClaimed(peers(tc.sizes...)); got != tc.want {
			t.Errorf("mostClaimed(%v) = %d, want %d", tc.sizes, got, tc.want)
		}
	}
}
