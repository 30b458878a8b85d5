package bitfield

import (
	"errors"
	"testing"
)

func TestBitfield(t *testing.T) {
	bf := New(10)
	for _, i := range []int{0, 7, 8, 9} {
		bf.Set(i)
	}
	if got := bf.Bytes(); got[0] != 0x81 || got[1] != 0xc0 {
		t.Fatalf("wire form % x", got)
	}
	if !bf.Has(9) || bf.Has(1) || bf.Has(10) || bf.Has(-1) || bf.Count() != 4 || bf.Full() {
		t.Fatal("membership")
	}
	bf.Clear(9)
	if bf.Has(9) || bf.Count() != 3 {
		t.Fatal("clear")
	}
	c := bf.Clone()
	c.SetAll()
	if !c.Full() || c.Bytes()[1] != 0xc0 || bf.Full() {
		t.Fatalf("SetAll % x, clone shares memory: %v", c.Bytes(), bf.Full())
	}
}

func TestFromBytes(t *testing.T) {
	if _, err := FromBytes([]byte{0xff, 0xc0}, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := FromBytes([]byte{0xff, 0xe0}, 10); !errors.Is(err, ErrSpareBits) {
		t.Fatalf("spare bits: %v", err)
	}
	if _, err := FromBytes([]byte{0xff}, 10); err == nil {
		t.Fatal("short bitfield accepted")
	}
	if bf, err := FromBytes([]byte{0xff}, 8); err != nil || !bf.Full() {
		t.Fatalf("exact byte: %v", err)
	}
}
