package wire

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/btfs/btfs/metainfo"
)

// protocol is the BEP 3 protocol string; a handshake starts with its length
// (19) and then the string itself.
const protocol = "BitTorrent protocol"

// Handshake sizes: the protocol header and reserved bits and info-hash that
// ReadHandshakeStart reads, then the peer id.
const (
	handshakeStartLen = 1 + len(protocol) + 8 + metainfo.HashSize
	handshakeLen      = handshakeStartLen + peerIDLen
	peerIDLen         = 20
)

// Reserved-bit positions we know of (BEP 10 and BEP 5).
const (
	extensionByte, extensionBit = 5, 0x10 // BEP 10 extension protocol
	dhtByte, dhtBit             = 7, 0x01 // BEP 5 DHT port message
)

// ErrBadProtocol reports a connection that did not start with a BitTorrent
// handshake (the peer speaks another protocol, or encryption we do not).
var ErrBadProtocol = errors.New("wire: not a BitTorrent handshake")

// PeerID is the 20-byte id a peer announces in its handshake.
type PeerID [20]byte

// NewPeerID returns a peer id in the Azureus style: prefix (such as
// "-XX0001-": client code and version) followed by random bytes from
// crypto/rand. A prefix longer than 20 bytes is cut to 20.
func NewPeerID(prefix string) PeerID {
	var id PeerID
	n := copy(id[:], prefix)
	rand.Read(id[n:]) // never fails (crypto/rand crashes the program instead)
	return id
}

// String returns the id quoted, with non-ASCII bytes escaped: the client
// prefix stays readable in logs.
func (id PeerID) String() string { return strconv.QuoteToASCII(string(id[:])) }

// Handshake is the BEP 3 handshake, after its protocol header.
type Handshake struct {
	Reserved [8]byte       // extension bits; see DefaultReserved
	InfoHash metainfo.Hash // the torrent the connection is for
	PeerID   PeerID
}

// DefaultReserved returns the reserved bits btfs sends: the BEP 10
// extension protocol, which magnet links need for BEP 9 metadata.
func DefaultReserved() [8]byte {
	var r [8]byte
	r[extensionByte] |= extensionBit
	return r
}

// WithDHT returns r with the BEP 5 bit set: the sender runs a DHT node, and
// peers may send it a Port message.
func WithDHT(r [8]byte) [8]byte {
	r[dhtByte] |= dhtBit
	return r
}

// SupportsExtensions reports whether the peer speaks BEP 10's extension
// protocol (and so may send Extended messages).
func (h Handshake) SupportsExtensions() bool {
	return h.Reserved[extensionByte]&extensionBit != 0
}

// SupportsDHT reports whether the peer runs a BEP 5 DHT node (and so may
// send a Port message).
func (h Handshake) SupportsDHT() bool { return h.Reserved[dhtByte]&dhtBit != 0 }

// WriteHandshake writes h in one Write call.
func WriteHandshake(w io.Writer, h Handshake) error {
	var b [handshakeLen]byte
	b[0] = byte(len(protocol))
	n := 1 + copy(b[1:], protocol)
	n += copy(b[n:], h.Reserved[:])
	n += copy(b[n:], h.InfoHash[:])
	copy(b[n:], h.PeerID[:])
	if _, err := w.Write(b[:]); err != nil {
		return fmt.Errorf("wire: write handshake: %w", err)
	}
	return nil
}

// ReadHandshakeStart reads a handshake up to and including the info-hash, so
// that the side accepting a connection can find the torrent, and refuse or
// answer, before reading the peer id with ReadPeerID. It reads exactly the
// bytes it needs, so a Reader can be made on r afterwards.
func ReadHandshakeStart(r io.Reader) (reserved [8]byte, infoHash metainfo.Hash, err error) {
	var b [handshakeStartLen]byte
	// The header first: a peer speaking another protocol may send fewer
	// bytes than a whole handshake, and then waits for an answer.
	if err := readFull(r, b[:1+len(protocol)], "handshake", false); err != nil {
		return reserved, infoHash, err
	}
	if int(b[0]) != len(protocol) || string(b[1:1+len(protocol)]) != protocol {
		return reserved, infoHash, fmt.Errorf("%w: starts with %q", ErrBadProtocol, b[:1+len(protocol)])
	}
	if err := readFull(r, b[1+len(protocol):], "handshake", true); err != nil {
		return reserved, infoHash, err
	}
	n := 1 + len(protocol)
	n += copy(reserved[:], b[n:])
	copy(infoHash[:], b[n:])
	return reserved, infoHash, nil
}

// ReadPeerID reads the last part of a handshake, after ReadHandshakeStart.
func ReadPeerID(r io.Reader) (PeerID, error) {
	var id PeerID
	if err := readFull(r, id[:], "handshake peer id", true); err != nil {
		return PeerID{}, err
	}
	return id, nil
}

// ReadHandshake reads a whole handshake: ReadHandshakeStart, then ReadPeerID.
func ReadHandshake(r io.Reader) (Handshake, error) {
	var h Handshake
	var err error
	if h.Reserved, h.InfoHash, err = ReadHandshakeStart(r); err != nil {
		return Handshake{}, err
	}
	if h.PeerID, err = ReadPeerID(r); err != nil {
		return Handshake{}, err
	}
	return h, nil
}

// readFull fills b. A stream that ends part-way gives io.ErrUnexpectedEOF,
// and so does one that ends before b's first byte if mid says b is not the
// start of a message or handshake; only a clean end gives io.EOF.
func readFull(r io.Reader, b []byte, what string, mid bool) error {
	_, err := io.ReadFull(r, b)
	if err == io.EOF && mid {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("wire: read %s: %w", what, err)
	}
	return nil
}
