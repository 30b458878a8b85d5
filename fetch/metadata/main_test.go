package metadata

import (
	"context"
	"crypto/sha1"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/btfs/btfs/bencode"
	"github.com/btfs/btfs/internal/leakcheck"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

// TestMain fails the run if a goroutine of this package (Fetch's, or a test
// peer's) outlives the tests.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.Main(m, "btfs/btfs/fetch/metadata."))
}

// makeInfo returns a valid info dictionary of a single file of n pieces of
// 16 KiB: about 20 bytes of metadata per piece, so 2000 pieces make three
// metadata pieces.
func makeInfo(t testing.TB, name string, n int) ([]byte, metainfo.Hash) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	hashes := make([]byte, 20*n)
	for i := range hashes {
		hashes[i] = byte(rng.Uint32())
	}
	info, err := bencode.Marshal(map[string]any{
		"length": int64(n) * 16384, "name": name, "piece length": 16384, "pieces": hashes,
	})
	if err != nil {
		t.Fatal(err)
	}
	return info, sha1.Sum(info)
}

// peerSpec is how a test peer behaves. The zero value, with info set, is an
// honest seeder of the metadata.
type peerSpec struct {
	info []byte
	// hash is the info-hash it answers for; zero: that of info.
	hash metainfo.Hash
	// noExtensions clears the extension bit of its handshake.
	noExtensions bool
	// handshake is its extension handshake; nil: ut_metadata as ID 5, and
	// info's size.
	handshake *wire.ExtendedHandshake
	// silent sends no extension handshake at all.
	silent bool
	// noBitfield leaves out the bitfield it sends first, as a seeder would.
	noBitfield bool
	// answer returns the payloads it sends for a request; nil: Serve.
	answer func(req wire.MetadataMessage) [][]byte
}

// testPeer is a peer on 127.0.0.1 speaking ut_metadata as its spec says.
type testPeer struct {
	addr     netip.AddrPort
	spec     peerSpec
	requests atomic.Int64
}

// peerID is the ID test peers ask ut_metadata messages to be sent with,
// other than ours, so that a mix-up of the two shows.
const peerID = 5

func startPeer(t *testing.T, spec peerSpec) *testPeer {
	t.Helper()
	if spec.hash.IsZero() {
		spec.hash = sha1.Sum(spec.info)
	}
	if spec.handshake == nil {
		spec.handshake = &wire.ExtendedHandshake{M: map[string]int{wire.MetadataExtension: peerID}, MetadataSize: len(spec.info)}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &testPeer{addr: netip.MustParseAddrPort(ln.Addr().String()), spec: spec}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			stop := context.AfterFunc(ctx, func() { c.Close() })
			wg.Go(func() {
				defer stop()
				defer c.Close()
				p.serve(c)
			})
		}
	})
	return p
}

func (p *testPeer) serve(c net.Conn) {
	if _, err := wire.ReadHandshake(c); err != nil {
		return
	}
	hs := wire.Handshake{Reserved: wire.DefaultReserved(), InfoHash: p.spec.hash, PeerID: wire.NewPeerID("-TP0001-")}
	if p.spec.noExtensions {
		hs.Reserved = [8]byte{}
	}
	if err := wire.WriteHandshake(c, hs); err != nil {
		return
	}
	w := wire.NewWriter(c)
	if !p.spec.noBitfield { // as seeders send it first, for Fetch to read past
		w.WriteMessage(wire.Message{ID: wire.Bitfield, Bitfield: []byte{0xff}})
	}
	if !p.spec.silent {
		payload, err := p.spec.handshake.Encode()
		if err != nil {
			panic(err)
		}
		w.WriteMessage(wire.Message{ID: wire.Extended, ExtendedID: wire.ExtendedHandshakeID, Payload: payload})
	}
	if w.Flush() != nil {
		return
	}
	r := wire.NewReader(c, 0)
	theirID := -1
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return
		}
		if m.ID != wire.Extended || m.KeepAlive {
			continue
		}
		if m.ExtendedID == wire.ExtendedHandshakeID {
			eh, err := wire.ParseExtendedHandshake(m.Payload)
			if err != nil {
				return
			}
			theirID = eh.M[wire.MetadataExtension]
			continue
		}
		if m.ExtendedID != peerID || theirID <= 0 {
			return // the fetcher used the wrong ID
		}
		req, err := wire.ParseMetadataMessage(m.Payload, 0)
		if err != nil || req.Type != wire.MetadataRequest {
			return
		}
		p.requests.Add(1)
		var replies [][]byte
		if p.spec.answer != nil {
			replies = p.spec.answer(req)
		} else if reply, err := Serve(p.spec.info, m.Payload); err == nil {
			replies = [][]byte{reply}
		}
		for _, b := range replies {
			w.WriteMessage(wire.Message{ID: wire.Extended, ExtendedID: uint8(theirID), Payload: b})
		}
		if w.Flush() != nil {
			return
		}
	}
}

// encode is m's payload, for answers.
func encode(t testing.TB, m wire.MetadataMessage) []byte {
	b, err := m.Encode()
	if err != nil {
		t.Error(err)
	}
	return b
}

// addrs returns a closed channel holding the peers' addresses, in order.
func addrs(peers ...*testPeer) <-chan netip.AddrPort {
	ch := make(chan netip.AddrPort, len(peers))
	for _, p := range peers {
		ch <- p.addr
	}
	close(ch)
	return ch
}

// logRecorder is a slog handler keeping the messages of dropped peers, by
// address.
type logRecorder struct {
	mu      sync.Mutex
	dropped map[string]string
}

func newLogger() (*slog.Logger, *logRecorder) {
	r := &logRecorder{dropped: map[string]string{}}
	return slog.New(r), r
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	if !strings.Contains(rec.Message, "dropped") {
		return nil
	}
	var peer, why string
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "peer":
			peer = fmt.Sprint(a.Value.Any())
		case "err":
			why = fmt.Sprint(a.Value.Any())
		}
		return true
	})
	r.mu.Lock()
	r.dropped[peer] = why
	r.mu.Unlock()
	return nil
}

// why returns the reason a was dropped for, or "".
func (r *logRecorder) why(a netip.AddrPort) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped[a.String()]
}
