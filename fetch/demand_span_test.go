package fetch

import (
	"slices"
	"testing"
)

func TestPieceSpanMinus(t *testing.T) {
	for _, tc := range []struct {
		s, o pieceSpan
		want []int
	}{
		{pieceSpan{2, 6}, pieceSpan{}, []int{2, 3, 4, 5}},
		{pieceSpan{2, 6}, pieceSpan{3, 5}, []int{2, 5}},
		{pieceSpan{2, 6}, pieceSpan{4, 9}, []int{2, 3}},
		{pieceSpan{2, 6}, pieceSpan{0, 3}, []int{3, 4, 5}},
		{pieceSpan{2, 6}, pieceSpan{7, 9}, []int{2, 3, 4, 5}},
		{pieceSpan{2, 6}, pieceSpan{0, 1}, []int{2, 3, 4, 5}},
		{pieceSpan{2, 6}, pieceSpan{4, 4}, []int{2, 3, 4, 5}},
		{pieceSpan{2, 6}, pieceSpan{0, 9}, nil},
		{pieceSpan{}, pieceSpan{0, 9}, nil},
	} {
		var got []int
		tc.s.minus(tc.o, func(i int) { got = append(got, i) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v minus %v = %v, want %v", tc.s, tc.o, got, tc.want)
		}
	}
}

// BenchmarkDemandSequentialReadahead is a sequential reader's readahead
// moving one piece on over the largest window of 64 KiB pieces (32 MiB:
// 512 pieces), with a second reader's window over the same pieces.
func BenchmarkDemandSequentialReadahead(b *testing.B) {
	d := newDemand()
	r, other := &Reader{}, &Reader{}
	drop := func(int) {}
	d.setAhead(other, pieceSpan{0, 1 << 20}, never, drop)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		first := i % (1 << 19)
		d.setAhead(r, pieceSpan{first, first + DefaultMaxReadahead/(64<<10)}, never, drop)
	}
}
