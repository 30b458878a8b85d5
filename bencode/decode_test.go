package bencode

import (
	"errors"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []string{
		"i0e", "i42e", "i-42e", "i9223372036854775807e", "i-9223372036854775808e",
		"0:", "4:spam", "le", "li1ei2ee", "de", "d3:bar4:spam3:fooi42ee",
		"d1:ad1:bl1:ceee", "l0:0:e", "d0:i1e1:ai2ee",
	}
	for _, in := range tests {
		v, err := Parse([]byte(in))
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if string(v.Raw()) != in {
			t.Errorf("Parse(%q).Raw() = %q", in, v.Raw())
		}
		// Strict decoding means the canonical re-encoding is the input itself.
		out, err := Marshal(toAny(v))
		if err != nil || string(out) != in {
			t.Errorf("Marshal(toAny(%q)) = %q, %v", in, out, err)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "unexpected end"},
		{"i01e", "leading zero"},
		{"i-0e", "negative zero"},
		{"ie", "without digits"},
		{"i-e", "without digits"},
		{"i1", "unterminated integer"},
		{"i1.5e", "unexpected byte"},
		{"i9223372036854775808e", "64 bits"},
		{"i-9223372036854775809e", "64 bits"},
		{"i99999999999999999999e", "64 bits"},
		{"03:abc", "leading zero"},
		{"5:abc", "past the end"},
		{"1099511627776:x", "past the end"},
		{"99999999999999999999:x", "64 bits"},
		{"3abc", "in string length"},
		{"12", "unterminated string length"},
		{"l", "unterminated list"},
		{"li1e", "unterminated list"},
		{"d", "unterminated dictionary"},
		{"di1ei2ee", "not a string"},
		{"d1:b0:1:a0:e", "out of order"},
		{"d1:a0:1:a0:e", "duplicate"},
		{"d1:ae", "no value"},
		{"d1:a", "no value"},
		{"i1ei2e", "after the end"},
		{"4:spamx", "after the end"},
		{"x", "unexpected byte"},
		{"e", "unexpected byte"},
		{strings.Repeat("l", 101) + strings.Repeat("e", 101), "nested deeper"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a SyntaxError", tt.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %q, want it to mention %q", tt.in, err, tt.want)
		}
	}
}

func TestParseDepthLimit(t *testing.T) {
	deep := strings.Repeat("l", 100) + strings.Repeat("e", 100)
	if _, err := Parse([]byte(deep)); err != nil {
		t.Fatalf("depth 100 rejected: %v", err)
	}
	if _, err := (Options{MaxDepth: 10}).Parse([]byte(deep)); err == nil {
		t.Fatal("depth 100 accepted with a limit of 10")
	}
}

func TestParseUnsortedKeys(t *testing.T) {
	lenient := Options{AllowUnsortedKeys: true}
	v, err := lenient.Parse([]byte("d1:bi2e1:ai1ee"))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := v.Get("a").Int(); n != 1 {
		t.Fatalf("Get(a) = %d in an unsorted dictionary", n)
	}
	for _, in := range []string{"d1:bi2e1:ai1e1:bi3ee", "d1:b0:1:a0:1:a0:e"} {
		if _, err := lenient.Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), "duplicate") {
			t.Errorf("lenient Parse(%q) = %v, want a duplicate key error", in, err)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	v, n, err := ParsePrefix([]byte("d8:msg_typei1e5:piecei0eeRAWDATA"))
	if err != nil {
		t.Fatal(err)
	}
	if n != 25 || string(v.Raw()) != "d8:msg_typei1e5:piecei0ee" {
		t.Fatalf("ParsePrefix = %q, %d", v.Raw(), n)
	}
}

func TestAccessors(t *testing.T) {
	v, err := Parse([]byte("d4:infod6:lengthi-7e4:name3:abce4:listli1e3:twoee"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Kind() != Dict || v.Len() != 2 {
		t.Fatalf("kind %v len %d", v.Kind(), v.Len())
	}
	info := v.Get("info")
	if string(info.Raw()) != "d6:lengthi-7e4:name3:abce" {
		t.Fatalf("info raw = %q", info.Raw())
	}
	if n, ok := info.Get("length").Int(); !ok || n != -7 {
		t.Fatalf("length = %d, %v", n, ok)
	}
	if s, ok := info.Get("name").Str(); !ok || s != "abc" {
		t.Fatalf("name = %q, %v", s, ok)
	}
	if _, ok := info.Get("name").Int(); ok {
		t.Fatal("a string read as an integer")
	}
	if got := v.Get("missing"); got.Kind() != Invalid || v.Has("missing") {
		t.Fatalf("missing key gave %v", got.Kind())
	}
	if v.Get("list").Len() != 2 {
		t.Fatalf("list len = %d", v.Get("list").Len())
	}
	var items []string
	for it := range v.Get("list").Items() {
		items = append(items, string(it.Raw()))
	}
	if strings.Join(items, ",") != "i1e,3:two" {
		t.Fatalf("items = %v", items)
	}
	if (Value{}).Get("x").Kind() != Invalid || (Value{}).Len() != 0 {
		t.Fatal("zero Value is not empty")
	}
}

// toAny converts a Value into plain Go values that Marshal encodes back.
func toAny(v Value) any {
	switch v.Kind() {
	case Int:
		n, _ := v.Int()
		return n
	case String:
		s, _ := v.Str()
		return s
	case List:
		l := []any{}
		for it := range v.Items() {
			l = append(l, toAny(it))
		}
		return l
	case Dict:
		m := map[string]any{}
		for k, it := range v.Entries() {
			m[string(k)] = toAny(it)
		}
		return m
	}
	return nil
}

func BenchmarkParseTorrentLike(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("d8:announce17:http://x/announce4:infod5:filesl")
	for range 1000 {
		sb.WriteString("d6:lengthi123456e4:pathl3:dir8:file.binee")
	}
	sb.WriteString("e4:name4:test12:piece lengthi262144e6:pieces20000:")
	sb.WriteString(strings.Repeat("x", 20000))
	sb.WriteString("ee")
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
