package choke

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRound(t *testing.T) {
	peers := []Peer{
		{ID: 1, Interested: true, DownloadRate: 10, UploadRate: 500},
		{ID: 2, Interested: true, DownloadRate: 50, UploadRate: 100},
		{ID: 3, Interested: true, DownloadRate: 900, Snubbed: true},
		{ID: 4, Interested: false, DownloadRate: 1000},
		{ID: 5, Interested: true, DownloadRate: 20, UploadRate: 300},
	}
	tests := []struct {
		name    string
		slots   int
		seeding bool
		regular []int
	}{
		{"leeching ranks by download rate, snubbed last", 2, false, []int{2, 5}},
		{"seeding ranks by upload rate", 2, true, []int{1, 5}},
		{"more slots than interested peers", 10, false, []int{2, 5, 1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.slots, rand.New(rand.NewPCG(1, 1)))
			got := c.Round(peers, tt.seeding)
			if !slices.Equal(got[:len(tt.regular)], tt.regular) {
				t.Fatalf("regular unchokes %v, want %v", got, tt.regular)
			}
			if slices.Contains(got, 4) {
				t.Fatal("an uninterested peer was unchoked")
			}
			opt := c.Optimistic()
			if len(tt.regular) < 4 && (opt < 0 || slices.Contains(tt.regular, opt) || got[len(got)-1] != opt) {
				t.Fatalf("optimistic %d in %v", opt, got)
			}
			if len(tt.regular) == 4 && opt != -1 {
				t.Fatalf("optimistic %d with nobody left to choose", opt)
			}
		})
	}
}

func TestOptimisticRotation(t *testing.T) {
	var peers []Peer
	for i := range 10 {
		peers = append(peers, Peer{ID: i, Interested: true, DownloadRate: float64(100 - i)})
	}
	c := New(2, rand.New(rand.NewPCG(7, 7)))
	seen := map[int]int{}
	first := -1
	for round := range 30 {
		c.Round(peers, false)
		if round < OptimisticRounds {
			if first == -1 {
				first = c.Optimistic()
			} else if c.Optimistic() != first {
				t.Fatalf("round %d: optimistic changed before %d rounds", round, OptimisticRounds)
			}
		}
		seen[c.Optimistic()]++
	}
	if len(seen) < 3 {
		t.Fatalf("optimistic unchoke did not rotate: %v", seen)
	}
	if seen[0] != 0 || seen[1] != 0 {
		t.Fatal("a regular unchoke was also picked as optimistic")
	}
}

func TestNewPeersFavoured(t *testing.T) {
	peers := []Peer{{ID: 1, Interested: true, New: true}, {ID: 2, Interested: true}}
	counts := map[int]int{}
	c := New(0, rand.New(rand.NewPCG(3, 3)))
	for range 3000 {
		c.roundsLeft = 0 // force a new pick each round
		c.Round(peers, false)
		counts[c.Optimistic()]++
	}
	if counts[1] < 2*counts[2] {
		t.Fatalf("new peer chosen %d times, old %d: want about three to one", counts[1], counts[2])
	}
}
