package main

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/internal/bytesize"
)

// peersOf is the peers part of a mount's status.
func peersOf(st fetch.Stats) peersStatus {
	ps := peersStatus{Connected: st.Peers, Seeders: st.Seeders, ChokingUs: st.ChokingUs, ChokedByUs: st.Choked, Known: st.Candidates,
		TCP: st.PeersTCP, UTP: st.PeersUTP, Encrypted: st.PeersEncrypted, List: []peerStatus{}}
	for _, pc := range st.PeerConns {
		ps.List = append(ps.List, peerStatus{Addr: pc.Addr, Transport: pc.Transport, Encrypted: pc.Encrypted,
			Incoming: pc.Incoming, DownloadRate: pc.DownRate, UploadRate: pc.UpRate})
	}
	slices.SortFunc(ps.List, func(a, b peerStatus) int { return cmp.Compare(a.Addr, b.Addr) })
	return ps
}

// peerLine shows one peer: "127.0.0.1:6881 utp rc4 in, down 1.2 MiB/s, up 0 B/s".
func peerLine(p peerStatus) string {
	enc, dir := "plain", "out"
	if p.Encrypted {
		enc = "rc4"
	}
	if p.Incoming {
		dir = "in"
	}
	return fmt.Sprintf("%s %s %s %s, down %s/s, up %s/s", p.Addr, p.Transport, enc, dir,
		bytesize.Format(int64(p.DownloadRate)), bytesize.Format(int64(p.UploadRate)))
}
