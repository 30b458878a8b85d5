package metadata

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/btfs/btfs/internal/leakcheck"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/wire"
)

// testOptions keeps hostile peers' cost short: a silent peer is given up
// after a second, an unanswered request after half a second.
func testOptions(t *testing.T) (Options, *logRecorder) {
	log, rec := newLogger()
	return Options{DialTimeout: time.Second, RequestTimeout: 500 * time.Millisecond, Log: log, PeerID: wire.NewPeerID("-MD0001-")}, rec
}

func fetch(t *testing.T, hash metainfo.Hash, peers <-chan netip.AddrPort, opts Options) (*metainfo.MetaInfo, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Fetch(ctx, hash, peers, opts)
}

func checkInfo(t *testing.T, mi *metainfo.MetaInfo, err error, info []byte, name string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mi.InfoBytes, info) || mi.Info.Name != name || mi.InfoHash.IsZero() {
		t.Fatalf("got a torrent named %q with %d bytes of info, want %q with %d", mi.Info.Name, len(mi.InfoBytes), name, len(info))
	}
}

func TestFetchFromOnePeer(t *testing.T) {
	leakcheck.Check(t, "btfs/btfs/fetch/metadata.")
	for _, n := range []int{1, 819, 2000} { // one metadata piece; exactly 16 KiB and a bit; three pieces
		info, hash := makeInfo(t, "movie.mkv", n)
		p := startPeer(t, peerSpec{info: info})
		opts, _ := testOptions(t)
		mi, err := fetch(t, hash, addrs(p), opts)
		checkInfo(t, mi, err, info, "movie.mkv")
		if got, want := p.requests.Load(), int64(wire.MetadataPieces(len(info))); got != want {
			t.Errorf("%d bytes of metadata: %d requests, want %d", len(info), got, want)
		}
	}
}

// TestFetchFromSeveralPeers holds every answer back until each of three
// peers has been asked something: the pieces are spread over them, and each
// is asked once.
func TestFetchFromSeveralPeers(t *testing.T) {
	leakcheck.Check(t, "btfs/btfs/fetch/metadata.")
	info, hash := makeInfo(t, "dir", 8000) // ten metadata pieces
	var mu sync.Mutex
	asked := map[*testPeer]bool{}
	all := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	peers := make([]*testPeer, 3)
	for i := range peers {
		var self *testPeer
		self = startPeer(t, peerSpec{info: info, answer: func(req wire.MetadataMessage) [][]byte {
			mu.Lock()
			if !asked[self] {
				if asked[self] = true; len(asked) == len(peers) {
					close(all)
				}
			}
			mu.Unlock()
			select {
			case <-all:
			case <-done:
			}
			reply, _ := Serve(info, encode(t, req))
			return [][]byte{reply}
		}})
		peers[i] = self
	}
	opts, _ := testOptions(t)
	mi, err := fetch(t, hash, addrs(peers...), opts)
	checkInfo(t, mi, err, info, "dir")
	var total int64
	for _, p := range peers {
		total += p.requests.Load()
	}
	if want := int64(wire.MetadataPieces(len(info))); total != want {
		t.Errorf("%d requests in all, want one per piece: %d", total, want)
	}
}

// hostile are peers that must each be dropped, with the reason given, for
// a three-piece metadata info.
func hostile(t *testing.T, info []byte) []struct {
	name string
	spec peerSpec
	why  string
} {
	size := len(info)
	wrong := func(req wire.MetadataMessage) [][]byte {
		data := bytes.Repeat([]byte{0xab}, wire.MetadataPieceLen(size, req.Piece))
		return [][]byte{encode(t, wire.MetadataMessage{Type: wire.MetadataData, Piece: req.Piece, TotalSize: size, Data: data})}
	}
	return []struct {
		name string
		spec peerSpec
		why  string
	}{
		{"metadata_size over the cap", peerSpec{info: info, handshake: &wire.ExtendedHandshake{
			M: map[string]int{wire.MetadataExtension: peerID}, MetadataSize: wire.MaxMetadataSize + 1}}, "over the limit"},
		{"no ut_metadata", peerSpec{info: info, handshake: &wire.ExtendedHandshake{M: map[string]int{"ut_pex": 1}, MetadataSize: size}}, "does not offer ut_metadata"},
		{"no metadata_size", peerSpec{info: info, handshake: &wire.ExtendedHandshake{M: map[string]int{wire.MetadataExtension: peerID}}}, "has no metadata"},
		{"no extension bit", peerSpec{info: info, noExtensions: true}, "extension protocol"},
		{"no extension handshake", peerSpec{info: info, silent: true}, "no handshake within 1s"},
		{"another torrent", peerSpec{info: info, hash: metainfo.Hash{1}}, "answered for torrent"},
		{"wrong data", peerSpec{info: info, answer: wrong}, "does not match the info-hash"},
		{"never answers", peerSpec{info: info, answer: func(wire.MetadataMessage) [][]byte { return nil }}, "no answer to a request"},
		{"rejects", peerSpec{info: info, answer: func(req wire.MetadataMessage) [][]byte {
			return [][]byte{encode(t, wire.MetadataMessage{Type: wire.MetadataReject, Piece: req.Piece})}
		}}, "rejected our request"},
		{"short piece", peerSpec{info: info, answer: func(req wire.MetadataMessage) [][]byte {
			b := wrong(req)[0]
			return [][]byte{b[:len(b)-1]}
		}}, "want 16384"},
		{"total_size other than its handshake's", peerSpec{info: info, answer: func(req wire.MetadataMessage) [][]byte {
			return [][]byte{encode(t, wire.MetadataMessage{Type: wire.MetadataData, Piece: 0, TotalSize: size + 1, Data: info[:wire.MetadataPieceSize]})}
		}}, "but the metadata has"},
		{"a piece not asked for", peerSpec{info: info, answer: func(req wire.MetadataMessage) [][]byte {
			return [][]byte{encode(t, wire.MetadataMessage{Type: wire.MetadataData, Piece: 2, TotalSize: size, Data: info[2*wire.MetadataPieceSize:]})}
		}}, "which we did not ask it for"},
		{"not bencode", peerSpec{info: info, answer: func(wire.MetadataMessage) [][]byte { return [][]byte{[]byte("junk")} }}, "bad ut_metadata message"},
		{"a larger size, consistently", peerSpec{info: info,
			handshake: &wire.ExtendedHandshake{M: map[string]int{wire.MetadataExtension: peerID}, MetadataSize: size + 100},
			answer: func(req wire.MetadataMessage) [][]byte {
				data := bytes.Repeat([]byte{0xcd}, wire.MetadataPieceLen(size+100, req.Piece))
				return [][]byte{encode(t, wire.MetadataMessage{Type: wire.MetadataData, Piece: req.Piece, TotalSize: size + 100, Data: data})}
			}}, "does not match the info-hash"},
	}
}

// TestFetchHostilePeerAlone gives Fetch one hostile peer at a time: it is
// dropped for the right reason, and Fetch gives up with ErrNoMetadata.
func TestFetchHostilePeerAlone(t *testing.T) {
	leakcheck.Check(t, "btfs/btfs/fetch/metadata.")
	info, hash := makeInfo(t, "movie.mkv", 2000)
	for _, tc := range hostile(t, info) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startPeer(t, tc.spec)
			opts, rec := testOptions(t)
			mi, err := fetch(t, hash, addrs(p), opts)
			if !errors.Is(err, ErrNoMetadata) {
				t.Fatalf("got %v, %v; want ErrNoMetadata", mi, err)
			}
			if why := rec.why(p.addr); !bytes.Contains([]byte(why), []byte(tc.why)) {
				t.Fatalf("dropped for %q, want %q (error: %v)", why, tc.why, err)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(tc.why)) {
				t.Fatalf("error %q does not say why the peer failed (%q)", err, tc.why)
			}
		})
	}
}

// TestFetchHostilePeersAndOneHonest puts every hostile peer ahead of one
// honest one: Fetch gets the metadata, and no more connections are open at
// once than MaxPeers allows.
func TestFetchHostilePeersAndOneHonest(t *testing.T) {
	leakcheck.Check(t, "btfs/btfs/fetch/metadata.")
	info, hash := makeInfo(t, "movie.mkv", 2000)
	var peers []*testPeer
	for _, tc := range hostile(t, info) {
		peers = append(peers, startPeer(t, tc.spec))
	}
	honest := startPeer(t, peerSpec{info: info})
	peers = append(peers, honest)
	opts, rec := testOptions(t)
	opts.MaxPeers = 4
	mi, err := fetch(t, hash, addrs(peers...), opts)
	checkInfo(t, mi, err, info, "movie.mkv")
	if why := rec.why(honest.addr); why != "" {
		t.Fatalf("the honest peer was dropped: %s", why)
	}
}

// TestFetchBlamesOnePeerOfMany: a liar and an honest peer both send pieces
// of one attempt (each holds its answers until both have been asked), which
// fails the hash; Fetch then asks one peer at a time, the liar first (it came
// first), finds it out and gets the metadata from the honest one.
func TestFetchBlamesOnePeerOfMany(t *testing.T) {
	leakcheck.Check(t, "btfs/btfs/fetch/metadata.")
	info, hash := makeInfo(t, "movie.mkv", 2000) // three pieces
	var mu sync.Mutex
	asked := map[string]bool{}
	both := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	hold := func(who string) {
		mu.Lock()
		if !asked[who] {
			if asked[who] = true; len(asked) == 2 {
				close(both)
			}
		}
		mu.Unlock()
		select {
		case <-both:
		case <-done:
		}
	}
	liar := startPeer(t, peerSpec{info: info, answer: func(req wire.MetadataMessage) [][]byte {
		hold("liar")
		data := bytes.Repeat([]byte{0xab}, wire.MetadataPieceLen(len(info), req.Piece))
		return [][]byte{encode(t, wire.MetadataMessage{Type: wire.MetadataData, Piece: req.Piece, TotalSize: len(info), Data: data})}
	}})
	honest := startPeer(t, peerSpec{info: info, answer: func(req wire.MetadataMessage) [][]byte {
		hold("honest")
		reply, _ := Serve(info, encode(t, req))
		return [][]byte{reply}
	}})
	opts, rec := testOptions(t)
	mi, err := fetch(t, hash, addrs(liar, honest), opts)
	checkInfo(t, mi, err, info, "movie.mkv")
	if why := rec.why(liar.addr); !bytes.Contains([]byte(why), []byte("does not match the info-hash")) {
		t.Fatalf("the liar was dropped for %q, want a hash mismatch", why)
	}
	if why := rec.why(honest.addr); why != "" {
		t.Fatalf("the honest peer was dropped: %s", why)
	}
}

// TestFetchBrokenTorrent: metadata that matches its info-hash but is not a
// valid info dictionary ends the fetch with metainfo.ErrInvalid.
func TestFetchBrokenTorrent(t *testing.T) {
	leakcheck.Check(t, "btfs/btfs/fetch/metadata.")
	info := []byte("d4:name1:ae")
	p := startPeer(t, peerSpec{info: info})
	opts, _ := testOptions(t)
	_, err := fetch(t, p.spec.hash, addrs(p), opts)
	if !errors.Is(err, metainfo.ErrInvalid) || errors.Is(err, ErrNoMetadata) {
		t.Fatalf("got %v, want metainfo.ErrInvalid", err)
	}
}

func TestFetchNoPeers(t *testing.T) {
	ch := make(chan netip.AddrPort)
	close(ch)
	opts, _ := testOptions(t)
	_, err := fetch(t, metainfo.Hash{1}, ch, opts)
	if !errors.Is(err, ErrNoMetadata) || !bytes.Contains([]byte(err.Error()), []byte("no peers to ask")) {
		t.Fatalf("got %v, want ErrNoMetadata saying there were no peers", err)
	}
}

// TestFetchCancel: a fetch from peers that never answer, over a channel
// that stays open, ends with its context, its goroutines stopped.
func TestFetchCancel(t *testing.T) {
	leakcheck.Check(t, "btfs/btfs/fetch/metadata.")
	info, hash := makeInfo(t, "x", 10)
	silent := startPeer(t, peerSpec{info: info, answer: func(wire.MetadataMessage) [][]byte { return nil }})
	mute := startPeer(t, peerSpec{info: info, silent: true})
	ch := make(chan netip.AddrPort, 2)
	ch <- silent.addr
	ch <- mute.addr
	opts, _ := testOptions(t)
	opts.RequestTimeout, opts.DialTimeout = time.Minute, time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Fetch(ctx, hash, ch, opts)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Fetch returned %v after its deadline", d)
	}
}
