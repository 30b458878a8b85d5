package bencode

import (
	"errors"
	"testing"
)

func TestMarshal(t *testing.T) {
	type peer struct {
		IP     string `bencode:"ip"`
		Port   uint16 `bencode:"port"`
		ID     []byte `bencode:"peer id,omitempty"`
		hidden int    // unexported: never encoded
		Skip   int    `bencode:"-"`
	}
	raw, _ := Parse([]byte("li1ee"))
	tests := []struct {
		in   any
		want string
	}{
		{0, "i0e"},
		{int64(-5), "i-5e"},
		{uint8(7), "i7e"},
		{true, "i1e"},
		{"spam", "4:spam"},
		{[]byte{0, 1}, "2:\x00\x01"},
		{[3]byte{'a', 'b', 'c'}, "3:abc"},
		{[]int{1, 2}, "li1ei2ee"},
		{[]string{}, "le"},
		{map[string]int{"b": 2, "a": 1}, "d1:ai1e1:bi2ee"},
		{peer{IP: "127.0.0.1", Port: 6881}, "d2:ip9:127.0.0.14:porti6881ee"},
		{&peer{IP: "x", Port: 1, ID: []byte("id"), hidden: 3, Skip: 4}, "d2:ip1:x7:peer id2:id4:porti1ee"},
		{map[string]any{"v": raw}, "d1:vli1eee"},
		{[]any{"a", 1, []any{}}, "l1:ai1elee"},
	}
	for _, tt := range tests {
		got, err := Marshal(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("Marshal(%#v) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestMarshalUnsupported(t *testing.T) {
	for _, in := range []any{nil, 1.5, map[int]int{1: 1}, make(chan int), uint64(1 << 63), Value{}} {
		if _, err := Marshal(in); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Marshal(%#v) = %v, want ErrUnsupported", in, err)
		}
	}
}

func TestAppendHelpers(t *testing.T) {
	b := AppendString(nil, "ab")
	b = AppendInt(b, -3)
	b = AppendBytes(b, []byte{})
	if string(b) != "2:abi-3e0:" {
		t.Fatalf("got %q", b)
	}
}
