package fetch

import (
	"context"
	"maps"
	"testing"

	"github.com/btfs/btfs/fetch/picker"
)

// The claim rules of demand, step by step: each step changes the demand
// and says what the counts must be after it. A count is the number of
// readers whose set holds a piece and whose claim was not served yet.
func TestDemandClaimRules(t *testing.T) {
	a, b := &Reader{}, &Reader{}
	d := newDemand()
	have := map[int]bool{7: true}
	had := func(i int) bool { return have[i] }
	var dropped []int
	drop := func(i int) { dropped = append(dropped, i) }
	var wa, wb *pieceWait
	steps := []struct {
		name     string
		do       func()
		ahead    map[int]int
		headTail map[int]int
		waiting  int
		dropped  []int
	}{
		{"a claims readahead 2-4", func() { d.setAhead(a, pieceSpan{2, 5}, had, drop) },
			map[int]int{2: 1, 3: 1, 4: 1}, map[int]int{}, 0, nil},
		{"b claims readahead 3-5", func() { d.setAhead(b, pieceSpan{3, 6}, had, drop) },
			map[int]int{2: 1, 3: 2, 4: 2, 5: 1}, map[int]int{}, 0, nil},
		{"a claims the same again", func() { d.setAhead(a, pieceSpan{2, 5}, had, drop) },
			map[int]int{2: 1, 3: 2, 4: 2, 5: 1}, map[int]int{}, 0, nil},
		{"a claims head and tail, twice; 7 is had", func() { d.claimHeadTail(a, []int{0, 7, 9}, had); d.claimHeadTail(a, []int{0, 1, 9}, had) },
			map[int]int{2: 1, 3: 2, 4: 2, 5: 1}, map[int]int{0: 1, 9: 1}, 0, nil},
		{"a and b wait for 4", func() { wa, wb = d.wait(a, 4), d.wait(b, 4) },
			map[int]int{2: 1, 3: 2, 4: 2, 5: 1}, map[int]int{0: 1, 9: 1}, 2, nil},
		{"4 arrives: the waits end, its claims are served", func() { d.wake(4); d.serve(4); have[4] = true },
			map[int]int{2: 1, 3: 2, 5: 1}, map[int]int{0: 1, 9: 1}, 0, nil},
		{"4 is evicted: nothing changes", func() { have[4] = false },
			map[int]int{2: 1, 3: 2, 5: 1}, map[int]int{0: 1, 9: 1}, 0, nil},
		{"a withdraws its ended wait: nothing changes", func() { d.withdraw(wa) },
			map[int]int{2: 1, 3: 2, 5: 1}, map[int]int{0: 1, 9: 1}, 0, nil},
		{"a moves on to 4-6: its served claim on 4 stays served", func() { d.setAhead(a, pieceSpan{4, 7}, had, drop) },
			map[int]int{3: 1, 5: 2, 6: 1}, map[int]int{0: 1, 9: 1}, 0, []int{2}},
		{"b moves on to 8-9", func() { d.setAhead(b, pieceSpan{8, 10}, had, drop) },
			map[int]int{5: 1, 6: 1, 8: 1, 9: 1}, map[int]int{0: 1, 9: 1}, 0, []int{2, 3}},
		{"9 arrives: served for both kinds of claim", func() { d.serve(9); have[9] = true },
			map[int]int{5: 1, 6: 1, 8: 1}, map[int]int{0: 1}, 0, []int{2, 3}},
		{"b waits for 8, then withdraws", func() { wb = d.wait(b, 8); d.withdraw(wb) },
			map[int]int{5: 1, 6: 1, 8: 1}, map[int]int{0: 1}, 0, []int{2, 3}},
		{"a closes: its claims go, b's stay", func() { d.wait(a, 5); d.release(a, drop) },
			map[int]int{8: 1}, map[int]int{}, 0, []int{2, 3, 5, 5, 6, 0}},
		{"a released again: nothing", func() { d.release(a, drop) },
			map[int]int{8: 1}, map[int]int{}, 0, []int{2, 3, 5, 5, 6, 0}},
		{"b closes", func() { d.release(b, drop) },
			map[int]int{}, map[int]int{}, 0, []int{2, 3, 5, 5, 6, 0, 8}},
	}
	for _, s := range steps {
		s.do()
		if !maps.Equal(d.ahead, s.ahead) || !maps.Equal(d.headTail, s.headTail) || d.waiting() != s.waiting {
			t.Fatalf("%s: ahead %v head/tail %v waiting %d; want %v %v %d", s.name, d.ahead, d.headTail, d.waiting(), s.ahead, s.headTail, s.waiting)
		}
		if !sameSet(dropped, s.dropped) {
			t.Fatalf("%s: dropped %v, want %v", s.name, dropped, s.dropped)
		}
	}
	if len(d.readers) != 0 || len(d.waits) != 0 {
		t.Fatalf("after both closed: %d readers, %d pieces with waits", len(d.readers), len(d.waits))
	}
	select {
	case <-wa.done:
	default:
		t.Fatal("a's wait on 4 was not ended by its arrival")
	}
}

func sameSet(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[int]int{}
	for _, i := range a {
		seen[i]++
	}
	for _, i := range b {
		seen[i]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// When a piece a reader's readahead held has arrived and been evicted, and
// another reader claims it, the first reader moving on leaves the piece
// wanted by the second. (Counts that the arrival deleted went to zero here,
// and the second reader's claim was lost: the piece fell to HeadTail,
// below what a reader still wanted.)
func TestClaimSurvivesArrivalAndEviction(t *testing.T) {
	mi, _ := makeContent(t, 1<<20, 64<<10) // 16 pieces
	lonely := startNode(t, mi, t.TempDir(), false, func(c *Config) { c.WantAll = false })
	tor := lonely.t
	cancelled, cancel := context.WithCancel(context.Background())
	cancel() // reads register their demand, then give up: no peer has anything
	read := func(r *Reader, off int64) { r.ReadAt(cancelled, make([]byte, 10), off) }
	priority := func(i int) (pr picker.Priority) {
		tor.do(context.Background(), func() { pr = tor.picker.Priority(i) })
		return pr
	}

	a := tor.NewReader(0, mi.Info.Length, 128<<10) // a window of two pieces
	defer a.Close()
	read(a, 64<<10-10) // in piece 0: a's readahead holds pieces 1 and 2
	if pr := priority(1); pr != picker.Readahead {
		t.Fatalf("piece 1 in a's readahead is at %v", pr)
	}
	tor.do(context.Background(), func() { // piece 1 arrives, then is evicted
		tor.picker.SetHave(1)
		tor.wake(1)
		tor.picker.Forget(1)
		tor.have.set(1, false)
		tor.lower(1)
	})
	b := tor.NewReader(0, mi.Info.Length, 128<<10)
	defer b.Close()
	read(b, 64<<10-10) // b's readahead holds pieces 1 and 2 too
	read(a, 10<<16)    // a seeks to piece 10: its window leaves 1 and 2
	if pr := priority(1); pr != picker.Readahead {
		t.Fatalf("piece 1, still in b's readahead, is at %v after a moved on", pr)
	}
	b.Close()
	if pr := priority(1); pr != picker.None {
		t.Fatalf("piece 1 is at %v with no reader left wanting it", pr)
	}
}

func never(int) bool { return false }

// BenchmarkDemandRead is the loop's part of a read that misses: its wait
// registered and woken, its readahead moved one piece on.
func BenchmarkDemandRead(b *testing.B) {
	d := newDemand()
	r := &Reader{}
	drop := func(int) {}
	for i := 0; b.Loop(); i++ {
		d.setAhead(r, pieceSpan{i + 1, i + 33}, never, drop)
		d.wait(r, i)
		d.wake(i)
	}
}

// BenchmarkDemandSeek is a seek: a 32-piece window moved elsewhere.
func BenchmarkDemandSeek(b *testing.B) {
	d := newDemand()
	r := &Reader{}
	drop := func(int) {}
	for i := 0; b.Loop(); i++ {
		at := (i % 2) * 1000
		d.setAhead(r, pieceSpan{at, at + 32}, never, drop)
	}
}
