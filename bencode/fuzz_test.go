package bencode

import (
	"bytes"
	"testing"
)

// FuzzParse checks that no input panics, and that whatever Parse accepts is
// canonical: walking it and encoding it again gives back the same bytes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"i0e", "i-1e", "4:spam", "le", "de", "d1:ai1e1:bl1:cee", "li1e3:abcd1:xleee",
		"d4:infod6:lengthi10e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
		"1099511627776:", "i01e", "d1:b0:1:a0:e", "d1:b0:1:a0:1:b0:e",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, lenientErr := Options{AllowUnsortedKeys: true}.Parse(data)
		v, err := Parse(data)
		if err != nil {
			return
		}
		if lenientErr != nil {
			t.Fatalf("strict parse accepted what the lenient one refused: %v", lenientErr)
		}
		out, err := Marshal(toAny(v))
		if err != nil {
			t.Fatalf("Marshal of a parsed value: %v", err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("not canonical: %q re-encodes as %q", data, out)
		}
	})
}
