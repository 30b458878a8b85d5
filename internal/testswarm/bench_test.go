package testswarm

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// BenchmarkDownload measures a whole download on loopback: each iteration
// starts a fresh leecher that fetches 64 MiB from the seeders through the
// tracker. The seeders run in the same process, so a CPU profile
// (-cpuprofile) shows both sides: the leecher's path is readLoop,
// handlePeerMsg/onBlock and the verifiers; the seeders' is writeLoop.
//
//	go test -run XXX -bench Download -cpuprofile cpu.out ./internal/testswarm
func BenchmarkDownload(b *testing.B) {
	for _, seeders := range []int{1, 4} {
		b.Run(fmt.Sprintf("seeders=%d", seeders), func(b *testing.B) {
			s := New(b, Options{Files: map[string]int64{"content.bin": 64 << 20}, PieceLength: 256 << 10})
			for range seeders {
				s.AddSeeder()
			}
			b.SetBytes(s.MetaInfo.Info.Length)
			b.ResetTimer()
			for b.Loop() {
				n := s.AddLeecher()
				if err := n.WaitDone(time.Minute); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				n.Stop()
				os.RemoveAll(n.Dir) // 64 MiB an iteration would add up
				b.StartTimer()
			}
		})
	}
}
