package fs_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/filestore"
	"github.com/btfs/btfs/fs"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

// source adapts a fetch.Torrent to fs.Source.
type source struct{ t *fetch.Torrent }

func (s source) Open(off, length int64) fs.Reader { return s.t.NewReader(off, length, 4<<20) }

// swarm is a seeder and a mounted leecher, in process, on loopback.
type swarm struct {
	mi      *metainfo.MetaInfo
	leecher *fetch.Torrent // the mounted one
	content string         // the seeder's copy: <content>/<name>/...
	mnt     string
	unmount func() // idempotent; fails the test if it hangs
}

// startSwarm makes random content, seeds it unless noSeeder, and mounts it
// through a second torrent that starts empty.
func startSwarm(t *testing.T, noSeeder bool) *swarm {
	t.Helper()
	return startSwarmOpts(t, noSeeder, fs.Options{})
}

// startSwarmOpts is startSwarm with the mount's options.
func startSwarmOpts(t *testing.T, noSeeder bool, opts fs.Options) *swarm {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this machine: FUSE mounts cannot be tested here")
	}
	content := t.TempDir()
	root := filepath.Join(content, "media")
	rng := rand.New(rand.NewPCG(7, 7))
	for name, size := range map[string]int{"video.mkv": 6<<20 + 5, "audio/track1.flac": 1<<20 + 3, "audio/track2.flac": 700000, "readme.txt": 300} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mi, err := metainfo.Create(context.Background(), root, metainfo.CreateOptions{PieceLength: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	run := func(store fetch.Storage, have fetch.CheckResult) (*fetch.Torrent, netip.AddrPort) {
		ln, err := fetch.Listen("127.0.0.1:0", nil)
		if err != nil {
			t.Fatal(err)
		}
		tor := fetch.New(fetch.Config{Info: &mi.Info, InfoHash: mi.InfoHash, PeerID: wire.NewPeerID("-bf0000-"),
			Storage: store, Have: have.Have, ListenPort: ln.Port()})
		ln.Add(tor)
		wg.Go(func() { ln.Serve(ctx) })
		wg.Go(func() { tor.Run(ctx) })
		return tor, netip.MustParseAddrPort(ln.Addr().String())
	}
	var peers []netip.AddrPort
	if !noSeeder {
		seedStore := filestore.Open(content, &mi.Info, false)
		t.Cleanup(func() { seedStore.Close() })
		have, err := fetch.Check(ctx, &mi.Info, seedStore, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, addr := run(seedStore, have)
		peers = append(peers, addr)
	}
	leechStore := filestore.Open(t.TempDir(), &mi.Info, true)
	t.Cleanup(func() { leechStore.Close() })
	leecher, _ := run(leechStore, fetch.CheckResult{})
	leecher.AddPeers(ctx, peers)

	mnt := t.TempDir()
	m, err := fs.Mount(mnt, &mi.Info, source{leecher}, opts)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	unmount := func() {
		once.Do(func() {
			done := make(chan struct{})
			go func() { m.Unmount(); m.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Error("unmount hung")
			}
		})
	}
	t.Cleanup(func() {
		unmount()
		cancel()
		wg.Wait()
	})
	return &swarm{mi: mi, leecher: leecher, content: content, mnt: mnt, unmount: unmount}
}

func sum(t *testing.T, path string) [20]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha1.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return [20]byte(h.Sum(nil))
}

func TestMountOverSwarm(t *testing.T) {
	s := startSwarm(t, false)
	// cat and cp of every file equal the source.
	for i := range s.mi.Info.Files {
		rel := s.mi.Info.DisplayPath(&s.mi.Info.Files[i])
		if got, want := sum(t, filepath.Join(s.mnt, rel)), sum(t, filepath.Join(s.content, rel)); got != want {
			t.Fatalf("%s through the mount differs", rel)
		}
		out, err := exec.Command("cp", filepath.Join(s.mnt, rel), filepath.Join(t.TempDir(), "copy")).CombinedOutput()
		if err != nil {
			t.Fatalf("cp %s: %v %s", rel, err, out)
		}
	}
	// ls -lR shows every file with its size.
	out, err := exec.Command("ls", "-lR", s.mnt).CombinedOutput()
	if err != nil {
		t.Fatalf("ls -lR: %v", err)
	}
	for _, f := range s.mi.Info.Files {
		if !bytes.Contains(out, []byte(" "+strconv.FormatInt(f.Length, 10)+" ")) {
			t.Errorf("ls -lR lacks the size %d of %q:\n%s", f.Length, f.Path, out)
		}
	}
}

func TestRandomReadsAndConcurrentReaders(t *testing.T) {
	s := startSwarm(t, false)
	files := s.mi.Info.Files
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	// Two readers of the same file and one each of two others, at once,
	// 500 random preads in all.
	for w, fi := range []int{0, 0, 1, 3} {
		wg.Go(func() {
			rel := s.mi.Info.DisplayPath(&files[fi])
			want, err := os.ReadFile(filepath.Join(s.content, rel))
			if err != nil {
				errs <- err
				return
			}
			f, err := os.Open(filepath.Join(s.mnt, rel))
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for range 125 {
				off := rng.Int64N(int64(len(want)))
				buf := make([]byte, rng.IntN(256<<10)+1)
				n, err := f.ReadAt(buf, off)
				if (err != nil && !errors.Is(err, io.EOF)) || !bytes.Equal(buf[:n], want[off:min(off+int64(len(buf)), int64(len(want)))]) {
					errs <- errors.New(rel + ": a random read differs")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// With no peer at all, Ctrl-C of a blocked cat returns within a second, and
// unmounting while a reader is blocked does not hang.
func TestBlockedReaderInterruptAndUnmount(t *testing.T) {
	s := startSwarm(t, true)
	path := filepath.Join(s.mnt, s.mi.Info.DisplayPath(&s.mi.Info.Files[0]))
	cat := exec.Command("cat", path)
	cat.Stdout = io.Discard
	if err := cat.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cat.Wait(); close(exited) }()
	select {
	case <-exited:
		t.Fatal("cat finished with no peer to read from")
	case <-time.After(300 * time.Millisecond): // blocked, as expected
	}
	start := time.Now()
	cat.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
		if d := time.Since(start); d > time.Second {
			t.Errorf("cat took %v to exit after Ctrl-C", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cat did not exit after Ctrl-C")
	}
	blocked := exec.Command("cat", path)
	blocked.Stdout = io.Discard
	if err := blocked.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { blocked.Process.Kill(); blocked.Wait() }()
	time.Sleep(300 * time.Millisecond) // let it block on the missing piece
	s.unmount()
}
