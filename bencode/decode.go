package bencode

import (
	"bytes"
	"fmt"
	"slices"
)

// DefaultMaxDepth bounds nesting. libtorrent uses 100; no real torrent, tracker
// reply or extension message comes near it, and it keeps the validator's
// recursion (and a hostile input's stack use) small.
const DefaultMaxDepth = 100

// maxIntDigits is the length of the longest int64 ("-9223372036854775808" has
// 19 digits); a longer run of digits cannot fit and is rejected before parsing.
const maxIntDigits = 19

// SyntaxError reports where and why an input is not valid bencoding.
type SyntaxError struct {
	Offset int    // byte offset of the problem in the input
	Msg    string // what is wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("bencode: invalid input at byte %d: %s", e.Offset, e.Msg)
}

// Options relax or tighten the decoder. The zero Options are the strict
// defaults.
type Options struct {
	// MaxDepth bounds nesting; 0 means DefaultMaxDepth.
	MaxDepth int
	// AllowUnsortedKeys accepts dictionaries whose keys are unique but not in
	// ascending order. Some clients write .torrent files that way (libtorrent's
	// own test corpus has them), and since a Value keeps its raw bytes the
	// info-hash is unaffected. Duplicate keys stay an error: they are ambiguous.
	AllowUnsortedKeys bool
}

// Parse validates data as exactly one bencoded value with the strict
// defaults and returns it.
func Parse(data []byte) (Value, error) {
	return Options{}.Parse(data)
}

// Parse validates data as exactly one bencoded value and returns it.
func (o Options) Parse(data []byte) (Value, error) {
	v, end, err := o.ParsePrefix(data)
	if err != nil {
		return Value{}, err
	}
	if end != len(data) {
		return Value{}, &SyntaxError{Offset: end, Msg: fmt.Sprintf("%d bytes after the end of the value", len(data)-end)}
	}
	return v, nil
}

// ParsePrefix validates the bencoded value at the start of data with the
// strict defaults and returns it with the number of bytes it spans; the bytes
// after it are left alone. It is for protocols that append a payload to a
// bencoded header (BEP 9).
func ParsePrefix(data []byte) (Value, int, error) {
	return Options{}.ParsePrefix(data)
}

// ParsePrefix is the package-level ParsePrefix with these options.
func (o Options) ParsePrefix(data []byte) (Value, int, error) {
	if o.MaxDepth == 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	v := validator{data: data, Options: o}
	end, err := v.value(0, 0)
	if err != nil {
		return Value{}, 0, err
	}
	return Value{raw: data[:end]}, end, nil
}

type validator struct {
	Options
	data []byte
}

func (v *validator) fail(off int, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// value validates the value starting at i and returns the index just past it.
func (v *validator) value(i, depth int) (int, error) {
	if i >= len(v.data) {
		return 0, v.fail(i, "unexpected end of input")
	}
	switch c := v.data[i]; {
	case c == 'i':
		_, end, err := v.integer(i)
		return end, err
	case c >= '0' && c <= '9':
		_, end, err := v.str(i)
		return end, err
	case c == 'l':
		if depth >= v.MaxDepth {
			return 0, v.fail(i, "nested deeper than %d", v.MaxDepth)
		}
		i++
		for {
			if i >= len(v.data) {
				return 0, v.fail(i, "unterminated list")
			}
			if v.data[i] == 'e' {
				return i + 1, nil
			}
			end, err := v.value(i, depth+1)
			if err != nil {
				return 0, err
			}
			i = end
		}
	case c == 'd':
		if depth >= v.MaxDepth {
			return 0, v.fail(i, "nested deeper than %d", v.MaxDepth)
		}
		return v.dict(i+1, depth)
	default:
		return 0, v.fail(i, "unexpected byte %q", c)
	}
}

func (v *validator) dict(i, depth int) (int, error) {
	var prev []byte
	start, sorted := i, true
	for first := true; ; first = false {
		if i >= len(v.data) {
			return 0, v.fail(i, "unterminated dictionary")
		}
		if v.data[i] == 'e' {
			if !sorted {
				return i + 1, v.uniqueKeys(start)
			}
			return i + 1, nil
		}
		if c := v.data[i]; c < '0' || c > '9' {
			return 0, v.fail(i, "dictionary key is not a string")
		}
		key, end, err := v.str(i)
		if err != nil {
			return 0, err
		}
		if !first {
			switch cmp := bytes.Compare(prev, key); {
			case cmp == 0:
				return 0, v.fail(i, "duplicate dictionary key %q", key)
			case cmp > 0 && !v.AllowUnsortedKeys:
				return 0, v.fail(i, "dictionary key %q out of order after %q", key, prev)
			case cmp > 0:
				sorted = false
			}
		}
		prev = key
		if end >= len(v.data) || v.data[end] == 'e' {
			return 0, v.fail(end, "dictionary key %q has no value", key)
		}
		if i, err = v.value(end, depth+1); err != nil {
			return 0, err
		}
	}
}

// uniqueKeys checks an unsorted dictionary (already validated, its entries
// starting at i) for duplicate keys. Only unsorted input pays for the sort.
func (v *validator) uniqueKeys(i int) error {
	var keys [][]byte
	for k := range (Value{raw: v.data[i-1:]}).Entries() {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, bytes.Compare)
	for j := 1; j < len(keys); j++ {
		if bytes.Equal(keys[j-1], keys[j]) {
			return v.fail(i, "duplicate dictionary key %q", keys[j])
		}
	}
	return nil
}

// integer parses "i<n>e" at i.
func (v *validator) integer(i int) (int64, int, error) {
	start := i
	i++ // 'i'
	neg := i < len(v.data) && v.data[i] == '-'
	if neg {
		i++
	}
	digits := i
	for i < len(v.data) && v.data[i] >= '0' && v.data[i] <= '9' {
		i++
	}
	if i >= len(v.data) {
		return 0, 0, v.fail(start, "unterminated integer")
	}
	if v.data[i] != 'e' {
		return 0, 0, v.fail(i, "unexpected byte %q in integer", v.data[i])
	}
	n, err := v.digits(v.data[digits:i], start, neg)
	if err != nil {
		return 0, 0, err
	}
	return n, i + 1, nil
}

// digits converts a run of decimal digits, rejecting the forms that would let
// one number have two encodings.
func (v *validator) digits(d []byte, off int, neg bool) (int64, error) {
	switch {
	case len(d) == 0:
		return 0, v.fail(off, "number without digits")
	case len(d) > 1 && d[0] == '0':
		return 0, v.fail(off, "number with a leading zero")
	case neg && d[0] == '0':
		return 0, v.fail(off, "negative zero")
	case len(d) > maxIntDigits:
		return 0, v.fail(off, "number does not fit in 64 bits")
	}
	var n uint64
	for _, c := range d {
		n = n*10 + uint64(c-'0')
	}
	limit := uint64(1<<63 - 1)
	if neg {
		limit++
	}
	if n > limit {
		return 0, v.fail(off, "number does not fit in 64 bits")
	}
	if neg {
		return -int64(n), nil
	}
	return int64(n), nil
}

// str parses "<len>:<bytes>" at i and returns the bytes.
func (v *validator) str(i int) ([]byte, int, error) {
	start := i
	for i < len(v.data) && v.data[i] >= '0' && v.data[i] <= '9' {
		i++
	}
	if i >= len(v.data) {
		return nil, 0, v.fail(start, "unterminated string length")
	}
	if v.data[i] != ':' {
		return nil, 0, v.fail(i, "unexpected byte %q in string length", v.data[i])
	}
	n, err := v.digits(v.data[start:i], start, false)
	if err != nil {
		return nil, 0, err
	}
	i++ // ':'
	if n > int64(len(v.data)-i) {
		return nil, 0, v.fail(start, "string of %d bytes runs past the end of input (%d bytes left)", n, len(v.data)-i)
	}
	end := i + int(n)
	return v.data[i:end], end, nil
}
