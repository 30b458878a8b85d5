package fetch

import (
	"context"
	"github.com/btfs/btfs/internal/wait"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/btfs/btfs/wire"
)

// Peers that take the requests of a blocked read and never answer do not
// hold the read up until they are snubbed: the late blocks move to a peer
// that delivers.
func TestLateUrgentBlocksMoveToAnotherPeer(t *testing.T) {
	mi, src := makeContent(t, 1<<20, 64<<10)
	data, err := os.ReadFile(filepath.Join(src, "content.bin"))
	if err != nil {
		t.Fatal(err)
	}
	mounter := startNode(t, mi, t.TempDir(), false, func(c *Config) {
		c.WantAll = false
		c.SnubTimeout = 10 * time.Minute // the read must not wait for this
	})
	asked := make(chan struct{}, 1)
	for range 2 { // MaxDuplicates of them: together they take every copy
		s := dialScripted(t, mounter, mi, wire.DefaultReserved())
		s.c.SetDeadline(time.Time{})
		all := make([]int, mi.Info.NumPieces())
		for i := range all {
			all[i] = i
		}
		s.send(wire.Message{ID: wire.Bitfield, Bitfield: bitfieldOf(len(all), all...)}, wire.Message{ID: wire.Unchoke})
		go func() { // swallow everything, answer nothing
			for {
				m, err := s.r.ReadMessage()
				if err != nil {
					return
				}
				if m.ID == wire.Request {
					select {
					case asked <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
	wait.For(t, "the two silent peers", 10*time.Second, func() bool {
		s, err := mounter.t.Stats(context.Background())
		return err == nil && s.Peers == 2
	})

	r := mounter.t.NewReader(0, mi.Info.Length, 0)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 1000)
		_, err := r.ReadAt(ctx, buf, 5<<16)
		if err == nil && string(buf) != string(data[5<<16:5<<16+1000]) {
			err = os.ErrInvalid
		}
		done <- err
	}()
	select {
	case <-asked: // the silent peers hold the read's blocks now
	case <-ctx.Done():
		t.Fatal("the silent peers were never asked")
	}
	seeder := startNode(t, mi, src, true, nil)
	mounter.t.AddPeers(context.Background(), []netip.AddrPort{seeder.addr})
	if err := <-done; err != nil {
		t.Fatalf("read with two silent peers and a seeder: %v", err)
	}
}
