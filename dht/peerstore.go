package dht

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	peer_store "github.com/anacrolix/dht/v2/peer-store"
)

// Peer store limits: what other nodes' announce_peer queries may make us
// keep. The library's own store (peer_store.InMemory) has no bound and no
// expiry, so any node on the internet could grow it without end.
const (
	// maxStoredTorrents bounds the info-hashes kept. A node stores the
	// torrents whose info-hashes are near its ID: a few dozen on the real
	// DHT; 2048 leaves room and bounds memory to about 2048 × maxStoredPeers
	// entries.
	maxStoredTorrents = 2048
	// maxStoredPeers bounds the peers kept per torrent; the oldest is
	// replaced when a new one comes.
	maxStoredPeers = 128
	// maxReturnedPeers bounds the "values" of one get_peers reply: 50
	// compact peers (400 bytes) keep the reply well inside one datagram,
	// as libtorrent's and Transmission's do.
	maxReturnedPeers = 50
	// peerTTL is how long an announcement is kept: clients re-announce
	// every 15 to 30 minutes, and BEP 5 lets stored peers expire.
	peerTTL = 30 * time.Minute
)

// peerStore is a bounded, expiring peer_store.Interface. mu guards torrents.
type peerStore struct {
	now func() time.Time

	mu       sync.Mutex
	torrents map[peer_store.InfoHash]map[netip.AddrPort]time.Time
}

var _ peer_store.Interface = (*peerStore)(nil)

func newPeerStore(now func() time.Time) *peerStore {
	return &peerStore{now: now, torrents: make(map[peer_store.InfoHash]map[netip.AddrPort]time.Time)}
}

// AddPeer records an announcement. A peer with no usable address is ignored;
// so is a new torrent while maxStoredTorrents live ones are kept.
func (s *peerStore) AddPeer(ih peer_store.InfoHash, na krpc.NodeAddr) {
	ap, ok := toAddrPort(na)
	if !ok {
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	peers := s.torrents[ih]
	if peers == nil {
		if len(s.torrents) >= maxStoredTorrents {
			s.expireAll(now)
			if len(s.torrents) >= maxStoredTorrents {
				return
			}
		}
		peers = make(map[netip.AddrPort]time.Time)
		s.torrents[ih] = peers
	}
	if _, known := peers[ap]; !known && len(peers) >= maxStoredPeers {
		expire(peers, now)
		if len(peers) >= maxStoredPeers {
			delete(peers, oldest(peers))
		}
	}
	peers[ap] = now
}

// GetPeers returns up to maxReturnedPeers live peers of ih, a random choice
// when there are more.
func (s *peerStore) GetPeers(ih peer_store.InfoHash) []krpc.NodeAddr {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	peers := s.torrents[ih]
	if expire(peers, now); len(peers) == 0 {
		delete(s.torrents, ih)
		return nil
	}
	out := make([]krpc.NodeAddr, 0, min(len(peers), maxReturnedPeers))
	for ap := range peers {
		out = append(out, krpc.NodeAddr{IP: net.IP(ap.Addr().AsSlice()), Port: int(ap.Port())})
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out[:min(len(out), maxReturnedPeers)]
}

// counts returns how many torrents and peers are stored, expired ones
// included until they are next looked at.
func (s *peerStore) counts() (torrents, peers int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.torrents {
		peers += len(p)
	}
	return len(s.torrents), peers
}

// expireAll drops expired peers, and torrents left with none.
func (s *peerStore) expireAll(now time.Time) {
	for ih, peers := range s.torrents {
		if expire(peers, now); len(peers) == 0 {
			delete(s.torrents, ih)
		}
	}
}

func expire(peers map[netip.AddrPort]time.Time, now time.Time) {
	for ap, t := range peers {
		if now.Sub(t) >= peerTTL {
			delete(peers, ap)
		}
	}
}

func oldest(peers map[netip.AddrPort]time.Time) (o netip.AddrPort) {
	var ot time.Time
	for ap, t := range peers {
		if !o.IsValid() || t.Before(ot) {
			o, ot = ap, t
		}
	}
	return o
}

// toAddrPort converts a peer address from the library, refusing what no
// peer can be reached at: no port, an unspecified, multicast or broadcast
// address, or no IP at all.
func toAddrPort(na krpc.NodeAddr) (netip.AddrPort, bool) {
	ap, ok := nodeAddrPort(na)
	if ip := ap.Addr(); !ok || ip.IsUnspecified() || ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return netip.AddrPort{}, false
	}
	return ap, true
}
