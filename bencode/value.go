package bencode

import (
	"bytes"
	"iter"
)

// Kind is the type of a bencoded value.
type Kind uint8

// The four bencode types; Invalid is the zero Value's kind.
const (
	Invalid Kind = iota
	Int
	String
	List
	Dict
)

func (k Kind) String() string {
	switch k {
	case Int:
		return "integer"
	case String:
		return "string"
	case List:
		return "list"
	case Dict:
		return "dictionary"
	}
	return "invalid"
}

// Value is a validated bencoded value: a view of the bytes it was parsed from.
// The zero Value is Invalid (what Get returns for a missing key). A Value
// shares memory with the input given to Parse; it must not be modified.
type Value struct {
	raw []byte
}

// Raw returns the exact bytes of the value as they appeared in the input.
func (v Value) Raw() []byte { return v.raw }

// Kind reports the value's type.
func (v Value) Kind() Kind {
	if len(v.raw) == 0 {
		return Invalid
	}
	switch c := v.raw[0]; {
	case c == 'i':
		return Int
	case c == 'l':
		return List
	case c == 'd':
		return Dict
	case c >= '0' && c <= '9':
		return String
	}
	return Invalid
}

// Int returns the integer, or false if the value is not an integer.
func (v Value) Int() (int64, bool) {
	if v.Kind() != Int {
		return 0, false
	}
	d := v.raw[1 : len(v.raw)-1]
	neg := d[0] == '-'
	if neg {
		d = d[1:]
	}
	var n uint64
	for _, c := range d {
		n = n*10 + uint64(c-'0')
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// Bytes returns the string's bytes (shared with the input), or false if the
// value is not a string.
func (v Value) Bytes() ([]byte, bool) {
	if v.Kind() != String {
		return nil, false
	}
	colon := bytes.IndexByte(v.raw, ':')
	return v.raw[colon+1:], true
}

// Str returns the string as a Go string, or false if the value is not a string.
func (v Value) Str() (string, bool) {
	b, ok := v.Bytes()
	return string(b), ok
}

// Items iterates over a list's elements; it yields nothing for other kinds.
func (v Value) Items() iter.Seq[Value] {
	return func(yield func(Value) bool) {
		if v.Kind() != List {
			return
		}
		for i := 1; v.raw[i] != 'e'; {
			end := skip(v.raw, i)
			if !yield(Value{raw: v.raw[i:end]}) {
				return
			}
			i = end
		}
	}
}

// Len returns the number of elements of a list or entries of a dictionary,
// and 0 for other kinds.
func (v Value) Len() int {
	n := 0
	switch v.Kind() {
	case List:
		for range v.Items() {
			n++
		}
	case Dict:
		for range v.Entries() {
			n++
		}
	}
	return n
}

// Entries iterates over a dictionary's keys and values in their (ascending)
// order; it yields nothing for other kinds.
func (v Value) Entries() iter.Seq2[[]byte, Value] {
	return func(yield func([]byte, Value) bool) {
		if v.Kind() != Dict {
			return
		}
		for i := 1; v.raw[i] != 'e'; {
			keyEnd := skip(v.raw, i)
			key, _ := Value{raw: v.raw[i:keyEnd]}.Bytes()
			end := skip(v.raw, keyEnd)
			if !yield(key, Value{raw: v.raw[keyEnd:end]}) {
				return
			}
			i = end
		}
	}
}

// Get returns the value stored under key in a dictionary. The result is the
// Invalid zero Value when v is not a dictionary or has no such key.
func (v Value) Get(key string) Value {
	for k, val := range v.Entries() {
		// No early exit on a greater key: a dictionary parsed with
		// AllowUnsortedKeys may hold its keys in any order.
		if string(k) == key {
			return val
		}
	}
	return Value{}
}

// Has reports whether a dictionary has key.
func (v Value) Has(key string) bool { return v.Get(key).Kind() != Invalid }

// skip returns the index just past the value at raw[i]; raw was validated.
func skip(raw []byte, i int) int {
	switch c := raw[i]; {
	case c == 'i':
		return i + bytes.IndexByte(raw[i:], 'e') + 1
	case c == 'l' || c == 'd':
		i++
		for raw[i] != 'e' {
			i = skip(raw, i)
		}
		return i + 1
	default:
		n, colon := 0, i
		for ; raw[colon] != ':'; colon++ {
			n = n*10 + int(raw[colon]-'0')
		}
		return colon + 1 + n
	}
}
