package main

import (
	"testing"

	"github.com/btfs/btfs/fetch"
)

func TestPeersOfShowsTransports(t *testing.T) {
	ps := peersOf(fetch.Stats{Peers: 2, PeersTCP: 1, PeersUTP: 1, PeersEncrypted: 1, PeerConns: []fetch.PeerConn{
		{Addr: "127.0.0.2:6881", Transport: "utp", Encrypted: true, Incoming: true, DownRate: 2048},
		{Addr: "127.0.0.1:6881", Transport: "tcp"},
	}})
	if ps.TCP != 1 || ps.UTP != 1 || ps.Encrypted != 1 || len(ps.List) != 2 || ps.List[0].Addr != "127.0.0.1:6881" {
		t.Fatalf("%+v", ps)
	}
	for i, want := range []string{
		"127.0.0.1:6881 tcp plain out, down 0 B/s, up 0 B/s",
		"127.0.0.2:6881 utp rc4 in, down 2 KiB/s, up 0 B/s",
	} {
		if got := peerLine(ps.List[i]); got != want {
			t.Errorf("peer %d: %q, want %q", i, got, want)
		}
	}
}
