package dht

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/anacrolix/dht/v2/krpc"
	"github.com/btfs/btfs/bencode"
)

// The state file keeps a node's ID and routing table across runs, so that a
// restart rejoins the DHT through the nodes it knew instead of the bootstrap
// routers, under the same ID (other nodes' tables keep pointing at it). It is
// a bencoded dictionary, like libtorrent's DHT state:
//
//	id      20 bytes: the node ID
//	nodes   compact IPv4 node infos, 26 bytes each (ID, address, port)
//	nodes6  compact IPv6 node infos, 38 bytes each
//
// It is written whole to a temporary file and renamed over the old one.

// State file limits.
const (
	// maxStateNodes bounds the nodes saved: a full routing table is 8
	// nodes in each of the ~20 buckets that fill on the real DHT; 512 is
	// more than that.
	maxStateNodes = 512
	// maxStateSize bounds the file read back: 512 IPv6 entries and the ID.
	maxStateSize = maxStateNodes*38 + 256
)

// state is what the state file holds.
type state struct {
	ID    krpc.ID
	Nodes []krpc.NodeInfo // with IDs, addresses valid
}

type stateDict struct {
	ID     []byte `bencode:"id"`
	Nodes  []byte `bencode:"nodes,omitempty"`
	Nodes6 []byte `bencode:"nodes6,omitempty"`
}

// encode returns the file's bytes, with at most maxStateNodes nodes.
func (s state) encode() ([]byte, error) {
	d := stateDict{ID: s.ID[:]}
	for _, n := range s.Nodes[:min(len(s.Nodes), maxStateNodes)] {
		ap, ok := nodeAddrPort(n.Addr)
		if !ok {
			continue
		}
		entry := append(append([]byte(nil), n.ID[:]...), ap.Addr().AsSlice()...)
		entry = binary.BigEndian.AppendUint16(entry, ap.Port())
		if ap.Addr().Is4() {
			d.Nodes = append(d.Nodes, entry...)
		} else {
			d.Nodes6 = append(d.Nodes6, entry...)
		}
	}
	return bencode.Marshal(d)
}

// decodeState reads a state file's bytes. Entries with port 0 or an
// unspecified address are skipped; a malformed file is an error.
func decodeState(b []byte) (state, error) {
	var s state
	v, err := bencode.Parse(b)
	if err != nil {
		return s, fmt.Errorf("dht state: %w", err)
	}
	id, ok := v.Get("id").Bytes()
	if !ok || len(id) != len(s.ID) {
		return s, errors.New("dht state: no 20-byte id")
	}
	copy(s.ID[:], id)
	for _, kind := range []struct {
		key  string
		size int
	}{{"nodes", 26}, {"nodes6", 38}} {
		key, size := kind.key, kind.size
		raw := v.Get(key)
		if raw.Kind() == bencode.Invalid {
			continue
		}
		list, ok := raw.Bytes()
		if !ok || len(list)%size != 0 {
			return state{}, fmt.Errorf("dht state: %s is not a list of %d-byte entries", key, size)
		}
		for ; len(list) > 0; list = list[size:] {
			var n krpc.NodeInfo
			copy(n.ID[:], list[:20])
			ip, _ := netip.AddrFromSlice(list[20 : size-2])
			port := binary.BigEndian.Uint16(list[size-2 : size])
			if port == 0 || ip.Unmap().IsUnspecified() {
				continue
			}
			n.Addr.FromAddrPort(netip.AddrPortFrom(ip.Unmap(), port))
			s.Nodes = append(s.Nodes, n)
		}
	}
	return s, nil
}

// loadState reads the state file at path. A missing file gives a zero state
// and no error.
func loadState(path string) (state, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return state{}, nil
	}
	if err != nil {
		return state{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateSize+1))
	if err != nil {
		return state{}, err
	}
	if len(b) > maxStateSize {
		return state{}, fmt.Errorf("dht state: %s is over %d bytes", path, maxStateSize)
	}
	return decodeState(b)
}

// saveState writes s to path atomically: a reader sees the old file or the
// new one, never a part.
func saveState(path string, s state) error {
	b, err := s.encode()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing to remove
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// nodeAddrPort converts a node's address, refusing port 0 and addresses
// that are not IPv4 or IPv6.
func nodeAddrPort(na krpc.NodeAddr) (netip.AddrPort, bool) {
	ip, ok := netip.AddrFromSlice(na.IP)
	if !ok || na.Port <= 0 || na.Port > 65535 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(na.Port)), true
}
