package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/btfs/btfs/bencode"
)

// BEP 11 (ut_pex): connected peers tell each other whom else they are
// connected to. Each message is the payload of an Extended message: a
// bencoded dictionary of peers added and dropped since the sender's last
// message, IPv4 and IPv6 apart, in compact form, with a flags byte per added
// peer.

// PexExtension is the extension's name in an extension handshake's M.
const PexExtension = "ut_pex"

// PEX limits, agreed between clients (BEP 11 and the libtorrent, µTorrent
// and Vuze conventions) and enforced by some of them, so kept both ways.
const (
	// MaxPexPeers bounds the added peers of one message, IPv4 and IPv6
	// together, and its dropped peers likewise. A message over it is
	// refused.
	MaxPexPeers = 50
	// PexInterval is the least time between two messages to one peer.
	PexInterval = time.Minute
)

// PexFlags describe an added peer (BEP 11's added.f).
type PexFlags uint8

// The flags of BEP 11; other bits are reserved and kept as received.
const (
	PexEncryption PexFlags = 0x01 // prefers encryption
	PexSeed       PexFlags = 0x02 // seed or upload-only
	PexUTP        PexFlags = 0x04 // supports uTP
	PexHolepunch  PexFlags = 0x08 // supports ut_holepunch
	PexReachable  PexFlags = 0x10 // we connected to it: it accepts connections
)

// PexPeer is an added peer.
type PexPeer struct {
	Addr  netip.AddrPort
	Flags PexFlags
}

// PexMessage is one ut_pex message. Addresses are unmapped: an IPv4 peer is
// IPv4 whichever list it came in.
type PexMessage struct {
	Added   []PexPeer
	Dropped []netip.AddrPort
}

// ErrBadPex reports a ut_pex message that breaks BEP 11 or a limit.
var ErrBadPex = errors.New("wire: bad ut_pex message")

// compact address sizes: IP and port.
const (
	compact4 = 4 + 2
	compact6 = 16 + 2
)

// ParsePexMessage reads a ut_pex payload (an Extended message's, after the
// extended ID).
//
// It is strict where a mistake would misread peers: every peer list present
// must be a string of whole 6- or 18-byte entries, and more than MaxPexPeers
// added or dropped peers (IPv4 and IPv6 together) are refused. It is lenient
// where clients differ harmlessly: unknown keys, keys out of order and bytes
// after the dictionary are ignored, a flags string whose length does not
// match its peers is ignored (the peers get no flags), and entries no one
// can connect to (port 0, an unspecified or multicast address) and
// duplicates are skipped. The result shares no memory with payload.
func ParsePexMessage(payload []byte) (PexMessage, error) {
	var m PexMessage
	d, _, err := parseExtendedDict(payload, ErrBadPex)
	if err != nil {
		return m, err
	}
	var lists [4][]byte // added, added6, dropped, dropped6
	for i, key := range []string{"added", "added6", "dropped", "dropped6"} {
		size := compact4
		if i%2 == 1 {
			size = compact6
		}
		v := d.Get(key)
		if v.Kind() == bencode.Invalid {
			continue
		}
		b, ok := v.Bytes()
		if !ok || len(b)%size != 0 {
			return PexMessage{}, fmt.Errorf("%w: %s is not a string of %d-byte peers", ErrBadPex, key, size)
		}
		lists[i] = b
	}
	if n := len(lists[0])/compact4 + len(lists[1])/compact6; n > MaxPexPeers {
		return PexMessage{}, fmt.Errorf("%w: %d added peers, limit %d", ErrBadPex, n, MaxPexPeers)
	}
	if n := len(lists[2])/compact4 + len(lists[3])/compact6; n > MaxPexPeers {
		return PexMessage{}, fmt.Errorf("%w: %d dropped peers, limit %d", ErrBadPex, n, MaxPexPeers)
	}
	seen := make(map[netip.AddrPort]bool)
	for i, fkey := range []string{"added.f", "added6.f"} {
		size := compact4 + i*(compact6-compact4)
		flags, _ := d.Get(fkey).Bytes()
		if len(flags) != len(lists[i])/size {
			flags = nil
		}
		for j := 0; j*size < len(lists[i]); j++ {
			ap, ok := compactPeer(lists[i][j*size : (j+1)*size])
			if !ok || seen[ap] {
				continue
			}
			seen[ap] = true
			p := PexPeer{Addr: ap}
			if flags != nil {
				p.Flags = PexFlags(flags[j])
			}
			m.Added = append(m.Added, p)
		}
	}
	clear(seen)
	for i, size := range []int{compact4, compact6} {
		for b := lists[2+i]; len(b) > 0; b = b[size:] {
			if ap, ok := compactPeer(b[:size]); ok && !seen[ap] {
				seen[ap] = true
				m.Dropped = append(m.Dropped, ap)
			}
		}
	}
	return m, nil
}

// compactPeer reads a 6- or 18-byte compact peer, refusing what no one can
// connect to.
func compactPeer(b []byte) (netip.AddrPort, bool) {
	ip, _ := netip.AddrFromSlice(b[:len(b)-2])
	ap := netip.AddrPortFrom(ip.Unmap(), binary.BigEndian.Uint16(b[len(b)-2:]))
	return ap, usablePeer(ap)
}

// unmapped returns ap with an IPv4-mapped IPv6 address turned into IPv4.
func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// usablePeer reports whether a peer at ap can be connected to at all.
func usablePeer(ap netip.AddrPort) bool {
	ip := ap.Addr()
	return ap.Port() != 0 && ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast() &&
		ip != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// Encode returns the message as an Extended message's payload, with all six
// keys present as libtorrent writes them. It refuses what ParsePexMessage
// would refuse or skip: more than MaxPexPeers added or dropped peers,
// unusable addresses, duplicates.
func (m PexMessage) Encode() ([]byte, error) {
	if len(m.Added) > MaxPexPeers || len(m.Dropped) > MaxPexPeers {
		return nil, fmt.Errorf("%w: %d added and %d dropped peers, limit %d each",
			ErrBadPex, len(m.Added), len(m.Dropped), MaxPexPeers)
	}
	var added, addedF, added6, added6F, dropped, dropped6 []byte
	seen := make(map[netip.AddrPort]bool)
	for _, p := range m.Added {
		ap, err := checkPexAddr(p.Addr, seen)
		if err != nil {
			return nil, err
		}
		if ap.Addr().Is4() {
			added, addedF = appendCompact(added, ap), append(addedF, byte(p.Flags))
		} else {
			added6, added6F = appendCompact(added6, ap), append(added6F, byte(p.Flags))
		}
	}
	clear(seen)
	for _, a := range m.Dropped {
		ap, err := checkPexAddr(a, seen)
		if err != nil {
			return nil, err
		}
		if ap.Addr().Is4() {
			dropped = appendCompact(dropped, ap)
		} else {
			dropped6 = appendCompact(dropped6, ap)
		}
	}
	b := append(make([]byte, 0, 64+len(added)+len(added6)+len(addedF)+len(added6F)+len(dropped)+len(dropped6)), 'd')
	for _, kv := range []struct {
		key string
		val []byte
	}{ // sorted keys
		{"added", added}, {"added.f", addedF}, {"added6", added6}, {"added6.f", added6F},
		{"dropped", dropped}, {"dropped6", dropped6},
	} {
		b = bencode.AppendBytes(bencode.AppendString(b, kv.key), kv.val)
	}
	return append(b, 'e'), nil
}

// checkPexAddr returns ap unmapped, refusing unusable and repeated peers.
func checkPexAddr(ap netip.AddrPort, seen map[netip.AddrPort]bool) (netip.AddrPort, error) {
	ap = unmapped(ap)
	if !usablePeer(ap) {
		return ap, fmt.Errorf("%w: peer %v", ErrBadPex, ap)
	}
	if seen[ap] {
		return ap, fmt.Errorf("%w: peer %v twice", ErrBadPex, ap)
	}
	seen[ap] = true
	return ap, nil
}

func appendCompact(b []byte, ap netip.AddrPort) []byte {
	return binary.BigEndian.AppendUint16(append(b, ap.Addr().AsSlice()...), ap.Port())
}

// PexState is the sending side of PEX toward one peer: it remembers what
// that peer was told, and turns the current set of connected peers into the
// next message. It is pure (the caller supplies the time) and not safe for
// concurrent use; the zero value is ready, and a new one belongs to each
// connection whose peer offered ut_pex.
//
// Rules, from BEP 11: at most one message per PexInterval (the first may go
// at once); a peer is added only while connected and dropped once it no
// longer is; no empty message (µTorrent drops connections over them); at most
// MaxPexPeers added and MaxPexPeers dropped per message, the rest left for
// the next (in address order, so that the choice is reproducible); a peer's
// flags are sent when it is added, not updated after.
type PexState struct {
	// Remote is the peer the messages go to; it is never listed to itself.
	Remote netip.AddrPort

	told map[netip.AddrPort]bool // peers the remote was told are connected
	last time.Time               // when the last message was produced
}

// Next returns the message to send at now, given the peers connected now
// (unusable addresses and the remote itself are skipped), or false if it is
// too early or nothing changed. A message returned counts as sent.
func (s *PexState) Next(now time.Time, connected []PexPeer) (PexMessage, bool) {
	var m PexMessage
	if !s.last.IsZero() && now.Sub(s.last) < PexInterval {
		return m, false
	}
	remote := unmapped(s.Remote)
	current := make(map[netip.AddrPort]bool, len(connected))
	for _, p := range connected {
		ap := unmapped(p.Addr)
		if ap == remote || !usablePeer(ap) || current[ap] {
			continue
		}
		current[ap] = true
		if !s.told[ap] {
			m.Added = append(m.Added, PexPeer{Addr: ap, Flags: p.Flags})
		}
	}
	for ap := range s.told {
		if !current[ap] {
			m.Dropped = append(m.Dropped, ap)
		}
	}
	if len(m.Added) == 0 && len(m.Dropped) == 0 {
		return PexMessage{}, false
	}
	slices.SortFunc(m.Added, func(a, b PexPeer) int { return a.Addr.Compare(b.Addr) })
	slices.SortFunc(m.Dropped, netip.AddrPort.Compare)
	m.Added = m.Added[:min(len(m.Added), MaxPexPeers)]
	m.Dropped = m.Dropped[:min(len(m.Dropped), MaxPexPeers)]
	if s.told == nil {
		s.told = make(map[netip.AddrPort]bool)
	}
	for _, p := range m.Added {
		s.told[p.Addr] = true
	}
	for _, ap := range m.Dropped {
		delete(s.told, ap)
	}
	s.last = now
	return m, true
}

// NextAt returns when Next may next produce a message: now, before the
// first message.
func (s *PexState) NextAt() time.Time {
	if s.last.IsZero() {
		return time.Time{}
	}
	return s.last.Add(PexInterval)
}
