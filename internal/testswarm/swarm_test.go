package testswarm

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/internal/leakcheck"
	"github.com/btfs/btfs/metainfo"
)

func TestMain(m *testing.M) {
	os.Exit(leakcheck.Main(m, "btfs/btfs/fetch.", "btfs/btfs/filestore.", "btfs/btfs/tracker.", "btfs/btfs/internal/testswarm."))
}

// Deadlines: these swarms move a few MiB over loopback and finish in well
// under a second without -race; the margins are for a loaded CI machine.
const within = 30 * time.Second

func logger(t *testing.T) *slog.Logger {
	if testing.Verbose() && os.Getenv("BTFS_TEST_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func uploaded(t *testing.T, n *Node) int64 {
	t.Helper()
	st, err := n.Torrent.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Uploaded
}

// Several seeders and leechers that start together, in a multi-file torrent
// whose piece boundaries straddle files (and with an empty file): everyone
// completes with the right bytes.
func TestSeedersAndLeechers(t *testing.T) {
	s := New(t, Options{
		Files: map[string]int64{
			"a.bin": 3<<20 + 4321, "dir/b.bin": 2<<20 + 77, "dir/sub/c.txt": 1000, "empty": 0,
		},
		PieceLength: 64 << 10, Logger: logger(t),
	})
	for range 3 {
		s.AddSeeder()
	}
	var leechers []*Node
	for range 4 {
		leechers = append(leechers, s.AddLeecher())
	}
	var wg sync.WaitGroup
	errs := make([]error, len(leechers))
	for i, n := range leechers {
		wg.Go(func() { errs[i] = n.WaitDone(within) })
	}
	wg.Wait()
	for i, n := range leechers {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if err := n.CheckFiles(); err != nil {
			t.Error(err)
		}
	}
}

// A leecher that completes serves a leecher that joins after every original
// seeder has left: the newcomer hears of it only from the tracker.
func TestLeecherBecomesSeeder(t *testing.T) {
	s := New(t, Options{Files: map[string]int64{"x.bin": 5<<20 + 3}, PieceLength: 32 << 10, Logger: logger(t)})
	seeder := s.AddSeeder()
	first := s.AddLeecher()
	if err := first.WaitDone(within); err != nil {
		t.Fatal(err)
	}
	seeder.Stop() // announces "stopped": the tracker forgets it
	second := s.AddLeecher()
	if err := second.WaitDone(within); err != nil {
		t.Fatal(err)
	}
	if err := second.CheckFiles(); err != nil {
		t.Fatal(err)
	}
	if up, size := uploaded(t, first), s.MetaInfo.Info.Length; up < size {
		t.Fatalf("the first leecher uploaded %d bytes, want the whole %d to the second", up, size)
	}
}

// A swarm that starts with leechers only completes once a seeder joins:
// whichever side announces later learns of the other, and the leechers
// also trade among themselves what each got first.
func TestSeederJoinsLate(t *testing.T) {
	s := New(t, Options{Files: map[string]int64{"x.bin": 3 << 20}, PieceLength: 16 << 10, Logger: logger(t)})
	a, b := s.AddLeecher(), s.AddLeecher()
	// Both have announced (and found each other, with nothing to trade)
	// before the seeder exists.
	deadline := time.Now().Add(within)
	for {
		st, err := a.Torrent.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Peers > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the two leechers never connected through the tracker")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.AddSeeder()
	for _, n := range []*Node{a, b} {
		if err := n.WaitDone(within); err != nil {
			t.Fatal(err)
		}
		if err := n.CheckFiles(); err != nil {
			t.Fatal(err)
		}
	}
}

// A newcomer that cannot connect out (as Transmission will not dial peers on
// 127.0.0.0/8) is still served: the seeder hears of it at its next announce,
// AnnounceEvery later, and connects to it.
func TestNewcomerThatCannotDial(t *testing.T) {
	s := New(t, Options{
		Files: map[string]int64{"x.bin": 1 << 20}, PieceLength: 32 << 10, Logger: logger(t),
		Config: func(c *fetch.Config) {
			if c.WantAll { // leechers only
				c.Dial = func(context.Context, netip.AddrPort, metainfo.Hash) (net.Conn, error) {
					return nil, errors.New("this node does not dial")
				}
			}
		},
	})
	s.AddSeeder()
	n := s.AddLeecher()
	if err := n.WaitDone(within); err != nil {
		t.Fatal(err)
	}
	if err := n.CheckFiles(); err != nil {
		t.Fatal(err)
	}
}
