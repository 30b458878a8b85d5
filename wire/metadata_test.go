package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/btfs/btfs/bencode"
)

func TestMetadataPieces(t *testing.T) {
	for _, tc := range []struct{ size, pieces, lastLen int }{
		{0, 0, 0}, {-5, 0, 0}, {1, 1, 1}, {MetadataPieceSize, 1, MetadataPieceSize},
		{MetadataPieceSize + 1, 2, 1}, {3*MetadataPieceSize - 7, 3, MetadataPieceSize - 7},
		{MaxMetadataSize, 1024, MetadataPieceSize},
	} {
		if got := MetadataPieces(tc.size); got != tc.pieces {
			t.Errorf("MetadataPieces(%d) = %d, want %d", tc.size, got, tc.pieces)
		}
		if got := MetadataPieceLen(tc.size, tc.pieces-1); got != tc.lastLen {
			t.Errorf("MetadataPieceLen(%d, last) = %d, want %d", tc.size, got, tc.lastLen)
		}
		if got := MetadataPieceLen(tc.size, tc.pieces); got != 0 {
			t.Errorf("MetadataPieceLen(%d, %d) = %d past the end, want 0", tc.size, tc.pieces, got)
		}
	}
}

func TestMetadataMessageRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		m    MetadataMessage
		want string
	}{
		{MetadataMessage{Type: MetadataRequest, Piece: 0}, "d8:msg_typei0e5:piecei0ee"},
		{MetadataMessage{Type: MetadataReject, Piece: 3}, "d8:msg_typei2e5:piecei3ee"},
		{MetadataMessage{Type: MetadataData, Piece: 1, TotalSize: MetadataPieceSize + 5, Data: []byte("hello")},
			"d8:msg_typei1e5:piecei1e10:total_sizei16389eehello"},
		{MetadataMessage{Type: 7, Piece: 9}, "d8:msg_typei7e5:piecei9ee"},
	} {
		b, err := tc.m.Encode()
		if err != nil {
			t.Fatalf("%+v: %v", tc.m, err)
		}
		if string(b) != tc.want {
			t.Errorf("%+v encodes as %q, want %q", tc.m, b, tc.want)
		}
		got, err := ParseMetadataMessage(b, 0)
		if err != nil || !sameMetadata(got, tc.m) {
			t.Errorf("%q parses as %+v, %v; want %+v", b, got, err, tc.m)
		}
	}
	// A whole 16 KiB piece fits an Extended message.
	full := MetadataMessage{Type: MetadataData, Piece: 1023, TotalSize: MaxMetadataSize, Data: make([]byte, MetadataPieceSize)}
	b, err := full.Encode()
	if err != nil || len(b) > MaxExtendedPayload {
		t.Fatalf("full piece: %d bytes, %v; limit %d", len(b), err, MaxExtendedPayload)
	}
}

// TestParseMetadataMessage feeds messages as clients send them, and hostile
// ones: each must be refused with ErrBadMetadata, naming what is wrong.
func TestParseMetadataMessage(t *testing.T) {
	const size = 2*MetadataPieceSize + 100 // three pieces, the last of 100 bytes
	last := strings.Repeat("x", 100)
	full := strings.Repeat("y", MetadataPieceSize)
	for _, tc := range []struct {
		name, in string
		size     int
		want     MetadataMessage
		err      string // substring of the error; "" for success
	}{
		{"request", "d8:msg_typei0e5:piecei2ee", size, MetadataMessage{Type: MetadataRequest, Piece: 2}, ""},
		{"unsorted keys, extra key", "d5:piecei1e8:msg_typei2e3:fooi9ee", size, MetadataMessage{Type: MetadataReject, Piece: 1}, ""},
		{"data, last piece", "d8:msg_typei1e5:piecei2e10:total_sizei32868ee" + last, size,
			MetadataMessage{Type: MetadataData, Piece: 2, TotalSize: size, Data: []byte(last)}, ""},
		{"data, full piece, size unknown", "d8:msg_typei1e5:piecei0e10:total_sizei32868ee" + full, 0,
			MetadataMessage{Type: MetadataData, Piece: 0, TotalSize: size, Data: []byte(full)}, ""},
		{"unknown msg_type is returned, unchecked", "d8:msg_typei5e5:piecei999999ee??", size, MetadataMessage{Type: 5, Piece: 999999}, ""},
		{"unknown msg_type without piece", "d8:msg_typei3ee", size, MetadataMessage{Type: 3}, ""},

		{"not bencode", "hello", size, MetadataMessage{}, "invalid input"},
		{"a list", "li1ee", size, MetadataMessage{}, "not a dictionary"},
		{"no msg_type", "d5:piecei0ee", size, MetadataMessage{}, "msg_type missing"},
		{"negative msg_type", "d8:msg_typei-1e5:piecei0ee", size, MetadataMessage{}, "msg_type missing"},
		{"no piece", "d8:msg_typei0ee", size, MetadataMessage{}, "request for piece , want 0 to 2"},
		{"piece past the end", "d8:msg_typei0e5:piecei3ee", size, MetadataMessage{}, "request for piece i3e, want 0 to 2"},
		{"piece past the cap, size unknown", "d8:msg_typei0e5:piecei1024ee", 0, MetadataMessage{}, "want 0 to 1023"},
		{"negative piece", "d8:msg_typei2e5:piecei-1ee", size, MetadataMessage{}, "reject for piece i-1e"},
		{"piece as string", "d8:msg_typei0e5:piece1:0e", size, MetadataMessage{}, "request for piece 1:0"},
		{"request with a tail", "d8:msg_typei0e5:piecei0eeX", size, MetadataMessage{}, "1 bytes after its dictionary"},
		{"data without total_size", "d8:msg_typei1e5:piecei2ee" + last, size, MetadataMessage{}, "total_size , want 1 to"},
		{"data with huge total_size", "d8:msg_typei1e5:piecei0e10:total_sizei16777217ee" + full, 0, MetadataMessage{}, "total_size i16777217e"},
		{"data with total_size other than the handshake's", "d8:msg_typei1e5:piecei2e10:total_sizei32869ee" + last + "z", size,
			MetadataMessage{}, "total_size 32869, but the metadata has 32868 bytes"},
		{"data piece past its total_size", "d8:msg_typei1e5:piecei1e10:total_sizei100ee" + last, 0, MetadataMessage{}, "data for piece 1, want 0 to 0 (total_size 100)"},
		{"data piece short", "d8:msg_typei1e5:piecei0e10:total_sizei32868ee" + last, size, MetadataMessage{}, "has 100 bytes, want 16384"},
		{"data piece long", "d8:msg_typei1e5:piecei2e10:total_sizei32868ee" + last + "!", size, MetadataMessage{}, "has 101 bytes, want 100"},
		{"data piece empty", "d8:msg_typei1e5:piecei2e10:total_sizei32868ee", size, MetadataMessage{}, "has 0 bytes, want 100"},
		{"over the extended limit", "d8:msg_typei1e5:piecei0e10:total_sizei99999ee" + full + strings.Repeat("z", 1<<10), 0, MetadataMessage{}, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMetadataMessage([]byte(tc.in), tc.size)
			if tc.err == "" {
				if err != nil || !sameMetadata(got, tc.want) {
					t.Fatalf("got %+v, %v; want %+v", short(got), err, short(tc.want))
				}
				return
			}
			if !errors.Is(err, ErrBadMetadata) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %+v, %v; want ErrBadMetadata saying %q", short(got), err, tc.err)
			}
		})
	}
}

func TestEncodeMetadataRefuses(t *testing.T) {
	for _, m := range []MetadataMessage{
		{Type: -1},
		{Type: MetadataRequest, Piece: -1},
		{Type: MetadataRequest, Piece: 1024},
		{Type: MetadataRequest, Piece: 0, TotalSize: 5},
		{Type: MetadataReject, Piece: 0, Data: []byte("x")},
		{Type: MetadataData, Piece: 0, TotalSize: 0},
		{Type: MetadataData, Piece: 0, TotalSize: MaxMetadataSize + 1, Data: make([]byte, MetadataPieceSize)},
		{Type: MetadataData, Piece: 1, TotalSize: 10, Data: []byte("x")},
		{Type: MetadataData, Piece: 0, TotalSize: 10, Data: []byte("x")},
		{Type: 9, Piece: -1},
	} {
		if b, err := m.Encode(); !errors.Is(err, ErrBadMetadata) {
			t.Errorf("%+v encoded as %q, %v; want ErrBadMetadata", short(m), b, err)
		}
	}
}

// FuzzMetadataMessage parses arbitrary payloads with and without a known
// size. Nothing may panic; errors are ErrBadMetadata; a message parsed must
// encode canonically and parse back the same, and its data must have the
// size of its piece.
func FuzzMetadataMessage(f *testing.F) {
	for _, s := range []string{
		"d8:msg_typei0e5:piecei2ee", "d8:msg_typei2e5:piecei0ee", "d5:piecei1e8:msg_typei2e3:fooi9ee",
		"d8:msg_typei1e5:piecei0e10:total_sizei5eehello", "d8:msg_typei1e5:piecei1e10:total_sizei16390eeworld!",
		"d8:msg_typei7ee", "d8:msg_typei1e5:piecei0e10:total_sizei-5eehello", "d8:msg_typei0e5:piecei0eetail", "le", "",
	} {
		f.Add([]byte(s), 0)
		f.Add([]byte(s), 16390)
	}
	f.Fuzz(func(t *testing.T, payload []byte, size int) {
		m, err := ParseMetadataMessage(payload, size)
		if err != nil {
			if !errors.Is(err, ErrBadMetadata) {
				t.Fatalf("error %v is not ErrBadMetadata", err)
			}
			return
		}
		if m.Type == MetadataData && len(m.Data) != MetadataPieceLen(m.TotalSize, m.Piece) {
			t.Fatalf("%+v: data of %d bytes", short(m), len(m.Data))
		}
		b, err := m.Encode()
		if err != nil {
			t.Fatalf("parsed %+v, which does not encode: %v", short(m), err)
		}
		end := len(b) - len(m.Data)
		if _, err := bencode.Parse(b[:end]); err != nil {
			t.Fatalf("encoding %q is not canonical: %v", b, err)
		}
		again, err := ParseMetadataMessage(b, 0)
		if err != nil || !sameMetadata(again, m) {
			t.Fatalf("%+v encodes as %q, which parses as %+v, %v", short(m), b, short(again), err)
		}
	})
}

func sameMetadata(a, b MetadataMessage) bool {
	return a.Type == b.Type && a.Piece == b.Piece && a.TotalSize == b.TotalSize && bytes.Equal(a.Data, b.Data)
}

// short is m with its data cut, for messages in test failures.
func short(m MetadataMessage) MetadataMessage {
	m.Data = m.Data[:min(len(m.Data), 16)]
	return m
}
