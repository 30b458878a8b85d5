package fetch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/btfs/btfs/fetch/metadata"
	"github.com/btfs/btfs/wire"
)

// A magnet link's fetch gets the info dictionary from a running seeder:
// metadata.Fetch against the engine, in-process on loopback. 1280 pieces
// make 25,600 bytes of hashes: two metadata pieces, the last one short.
func TestServeMetadataToFetch(t *testing.T) {
	mi, src := makeContent(t, 20<<20, 16<<10)
	if n := wire.MetadataPieces(len(mi.InfoBytes)); n < 2 {
		t.Fatalf("the info dictionary has %d metadata pieces; the test wants several", n)
	}
	seeder := startNode(t, mi, src, true, func(c *Config) { c.InfoBytes = mi.InfoBytes })
	peers := make(chan netip.AddrPort, 1)
	peers <- seeder.addr
	close(peers)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := metadata.Fetch(ctx, mi.InfoHash, peers, metadata.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.InfoBytes, mi.InfoBytes) || got.Info.Name != mi.Info.Name || got.Info.NumPieces() != mi.Info.NumPieces() {
		t.Fatalf("fetched info %q (%d pieces), want %q (%d pieces)", got.Info.Name, got.Info.NumPieces(), mi.Info.Name, mi.Info.NumPieces())
	}
}

// A seeder that was given no info dictionary does not claim to have one, and
// a peer asking anyway gets nothing (its message goes unanswered).
func TestNoMetadataWithoutInfoBytes(t *testing.T) {
	mi, src := makeContent(t, 1<<20, 16<<10)
	seeder := startNode(t, mi, src, true, nil)
	c, r, w, hs := dialExtended(t, seeder, mi.InfoHash)
	defer c.Close()
	if _, ok := hs.M[wire.MetadataExtension]; ok || hs.MetadataSize != 0 {
		t.Fatalf("extension handshake without InfoBytes: m %v, metadata_size %d", hs.M, hs.MetadataSize)
	}
	sendMetadataRequests(t, w, 1)
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	for {
		m, err := r.ReadMessage()
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("connection ended: %v", err)
			}
			return
		}
		if m.ID == wire.Extended && m.ExtendedID == testMetadataID {
			t.Fatalf("an answer to a metadata request from a seeder without metadata: %q", m.Payload)
		}
	}
}

// A peer asking for metadata in a loop gets metadataBurst pieces, rejects
// after that, and is dropped once it has been refused
// maxMetadataRefusals times.
func TestMetadataRequestFlood(t *testing.T) {
	mi, src := makeContent(t, 1<<20, 16<<10)
	seeder := startNode(t, mi, src, true, func(c *Config) { c.InfoBytes = mi.InfoBytes })
	c, r, w, hs := dialExtended(t, seeder, mi.InfoHash)
	defer c.Close()
	if hs.M[wire.MetadataExtension] != metadata.LocalExtendedID || hs.MetadataSize != len(mi.InfoBytes) {
		t.Fatalf("extension handshake: m %v, metadata_size %d; want ut_metadata %d, size %d",
			hs.M, hs.MetadataSize, metadata.LocalExtendedID, len(mi.InfoBytes))
	}
	// The budget and ten more: every request is answered, with the piece
	// or a reject (a few more pieces if the clock refills the budget).
	first := metadataBurst + 10
	sendMetadataRequests(t, w, first)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var data, rejects int
	for data+rejects < first {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("after %d pieces and %d rejects: %v", data, rejects, err)
		}
		if m.ID != wire.Extended || m.ExtendedID != testMetadataID {
			continue
		}
		mm, err := wire.ParseMetadataMessage(m.Payload, len(mi.InfoBytes))
		if err != nil {
			t.Fatal(err)
		}
		switch mm.Type {
		case wire.MetadataData:
			if !bytes.Equal(mm.Data, mi.InfoBytes) {
				t.Fatalf("piece 0 of the metadata differs from the info dictionary")
			}
			data++
		case wire.MetadataReject:
			rejects++
		}
	}
	if data < metadataBurst || data > metadataBurst+2 {
		t.Fatalf("%d pieces and %d rejects for %d requests; want %d pieces", data, rejects, first, metadataBurst)
	}
	// Asking on regardless ends the connection.
	sent := make(chan struct{})
	go func() { defer close(sent); sendMetadataRequests(t, w, maxMetadataRefusals+50) }() // may meet the close
	defer func() { <-sent }()
	for {
		_, err := r.ReadMessage()
		if err == nil {
			continue
		}
		if !errors.Is(err, io.EOF) && !isReset(err) {
			t.Fatalf("flooding requests: %v; want the connection closed", err)
		}
		return
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// testMetadataID is the ID the test peer asks ut_metadata messages to be sent
// with: not ours, so that a mix-up shows.
const testMetadataID = 7

// dialExtended connects to n as a peer speaking the extension protocol and
// returns the connection and n's extension handshake.
func dialExtended(t *testing.T, n *node, hash [20]byte) (net.Conn, *wire.Reader, *wire.Writer, wire.ExtendedHandshake) {
	t.Helper()
	c, err := net.DialTimeout("tcp", n.addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := wire.WriteHandshake(c, wire.Handshake{Reserved: wire.DefaultReserved(), InfoHash: hash, PeerID: wire.NewPeerID("-TE0001-")}); err != nil {
		t.Fatal(err)
	}
	if _, err := wire.ReadHandshake(c); err != nil {
		t.Fatal(err)
	}
	r, w := wire.NewReader(c, 0), wire.NewWriter(c)
	payload, err := wire.ExtendedHandshake{M: map[string]int{wire.MetadataExtension: testMetadataID}}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessage(wire.Message{ID: wire.Extended, ExtendedID: wire.ExtendedHandshakeID, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for the extension handshake: %v", err)
		}
		if m.ID == wire.Extended && m.ExtendedID == wire.ExtendedHandshakeID {
			hs, err := wire.ParseExtendedHandshake(m.Payload)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Time{})
			return c, r, w, hs
		}
	}
}

// sendMetadataRequests asks n times for metadata piece 0. Write errors end
// it quietly: the engine may have closed the connection.
func sendMetadataRequests(t *testing.T, w *wire.Writer, n int) {
	req, err := wire.MetadataMessage{Type: wire.MetadataRequest}.Encode()
	if err != nil {
		t.Error(err)
		return
	}
	for range n {
		if w.WriteMessage(wire.Message{ID: wire.Extended, ExtendedID: metadata.LocalExtendedID, Payload: req}) != nil {
			return
		}
	}
	w.Flush()
}
