package dht

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	peer_store "github.com/anacrolix/dht/v2/peer-store"
)

func nodeAddr(s string) krpc.NodeAddr {
	var na krpc.NodeAddr
	na.FromAddrPort(netip.MustParseAddrPort(s))
	return na
}

func TestPeerStoreBounds(t *testing.T) {
	now := time.Unix(1e9, 0)
	s := newPeerStore(func() time.Time { return now })
	ih := peer_store.InfoHash{1}

	// Unusable addresses are ignored.
	for _, na := range []krpc.NodeAddr{
		nodeAddr("10.0.0.1:0"), nodeAddr("0.0.0.0:1"), nodeAddr("224.0.0.1:1"),
		nodeAddr("255.255.255.255:1"), {IP: net.IP{1, 2, 3}, Port: 1}, {IP: net.IP{1, 2, 3, 4}, Port: 70000},
	} {
		s.AddPeer(ih, na)
	}
	if tor, peers := s.counts(); tor != 0 || peers != 0 {
		t.Fatalf("stored %d torrents, %d peers from unusable addresses", tor, peers)
	}

	// One torrent keeps maxStoredPeers, replacing the oldest; a reply
	// carries maxReturnedPeers.
	for i := range maxStoredPeers + 10 {
		now = now.Add(time.Second)
		s.AddPeer(ih, krpc.NodeAddr{IP: net.IP{10, 0, byte(i >> 8), byte(i)}, Port: 1000 + i})
	}
	if _, peers := s.counts(); peers != maxStoredPeers {
		t.Fatalf("%d peers stored, want %d", peers, maxStoredPeers)
	}
	got := s.GetPeers(ih)
	if len(got) != maxReturnedPeers {
		t.Fatalf("%d peers returned, want %d", len(got), maxReturnedPeers)
	}
	for _, p := range got {
		if p.Port < 1010 {
			t.Errorf("peer %v should have been replaced", p)
		}
	}

	// Torrents are bounded; expired ones make room.
	for i := 1; i < maxStoredTorrents; i++ {
		s.AddPeer(peer_store.InfoHash{2, byte(i >> 8), byte(i)}, nodeAddr("10.1.1.1:1"))
	}
	extra := peer_store.InfoHash{3}
	s.AddPeer(extra, nodeAddr("10.1.1.1:1"))
	if len(s.GetPeers(extra)) != 0 {
		t.Fatal("a torrent past the bound was stored")
	}
	now = now.Add(peerTTL)
	s.AddPeer(extra, nodeAddr("10.1.1.1:1"))
	if tor, peers := s.counts(); tor != 1 || peers != 1 || len(s.GetPeers(extra)) != 1 {
		t.Fatalf("after expiry: %d torrents, %d peers; want only the new one", tor, peers)
	}
	if s.GetPeers(ih) != nil {
		t.Fatal("expired peers returned")
	}
}
