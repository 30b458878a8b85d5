package wire

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/btfs/btfs/bencode"
)

// BEP 9 (ut_metadata): peers send each other a torrent's info dictionary, the
// "metadata", in pieces of MetadataPieceSize, so that a magnet link, which
// names only the info-hash, becomes a torrent. Each message is the payload of
// an Extended message: a bencoded dictionary (msg_type, piece, and for data
// total_size), followed for data by the piece's bytes.

// MetadataExtension is the extension's name in an extension handshake's M;
// the handshake's MetadataSize says how large the metadata is.
const MetadataExtension = "ut_metadata"

// MetadataPieceSize is the size of every metadata piece but the last, which
// holds the rest (1 to MetadataPieceSize bytes), as BEP 9 fixes it.
const MetadataPieceSize = 16 << 10

// MaxMetadataSize bounds the metadata we accept from (or send to) a peer. The
// whole info dictionary is kept in memory until its SHA-1 is checked, so a
// peer's claim must not make us hold more than this. 16 MiB holds over 800,000
// piece hashes and a long file list: more than any torrent in the wild (a
// 100 GiB torrent of 256 KiB pieces needs 8 MiB), though less than the 64 MiB
// a .torrent file may have (metainfo.MaxTorrentSize), whose largest legal
// torrents nobody fetches by magnet link. It is 1024 metadata pieces.
const MaxMetadataSize = 16 << 20

// maxMetadataPieces is how many pieces a metadata of MaxMetadataSize has.
const maxMetadataPieces = MaxMetadataSize / MetadataPieceSize

// MetadataType is a ut_metadata message's msg_type.
type MetadataType int

// The msg_types of BEP 9. Others may come from future extensions; BEP 9 says
// to ignore them.
const (
	MetadataRequest MetadataType = 0 // asks for a piece
	MetadataData    MetadataType = 1 // carries a piece
	MetadataReject  MetadataType = 2 // refuses a request
)

func (t MetadataType) String() string {
	switch t {
	case MetadataRequest:
		return "request"
	case MetadataData:
		return "data"
	case MetadataReject:
		return "reject"
	}
	return "msg_type " + strconv.Itoa(int(t))
}

// Known reports whether t is one of BEP 9's three msg_types.
func (t MetadataType) Known() bool { return t >= MetadataRequest && t <= MetadataReject }

// ErrBadMetadata reports a ut_metadata message that breaks BEP 9 or a limit:
// not a dictionary, a missing or impossible field, a piece index past the
// metadata's end, a data piece of the wrong size.
var ErrBadMetadata = errors.New("wire: bad ut_metadata message")

// MetadataMessage is one ut_metadata message. Piece is used by every type;
// TotalSize and Data by data messages only.
type MetadataMessage struct {
	Type  MetadataType
	Piece int
	// TotalSize is the size of the whole metadata (data messages).
	TotalSize int
	// Data is the piece's bytes (data messages): MetadataPieceSize bytes, or
	// the rest for the last piece. From ParseMetadataMessage it shares the
	// payload's memory.
	Data []byte
}

// MetadataPieces returns how many pieces a metadata of size bytes has.
func MetadataPieces(size int) int {
	if size <= 0 {
		return 0
	}
	return (size-1)/MetadataPieceSize + 1
}

// MetadataPieceLen returns the size of piece of a metadata of size bytes, or
// 0 if there is no such piece.
func MetadataPieceLen(size, piece int) int {
	if piece < 0 || piece >= MetadataPieces(size) {
		return 0
	}
	return min(size-piece*MetadataPieceSize, MetadataPieceSize)
}

// ParseMetadataMessage reads a ut_metadata payload (an Extended message's,
// after the extended ID). size is the metadata's size when the caller knows
// it (from the peer's extension handshake, or its own info dictionary), or 0.
//
// It is strict where a mistake would corrupt or inflate the metadata: a data
// message must say a total_size of 1 to MaxMetadataSize (equal to size, when
// given) and carry exactly its piece's bytes; every piece index must exist
// (below MetadataPieces(size), or the pieces of MaxMetadataSize while the size
// is unknown); a request or reject carries nothing after its dictionary. It
// is lenient where other clients differ harmlessly: unknown keys and keys out
// of order are ignored. An unknown msg_type comes back with its Type and
// Piece (0 if absent) and nothing checked, for the caller to ignore.
func ParseMetadataMessage(payload []byte, size int) (MetadataMessage, error) {
	var m MetadataMessage
	d, end, err := parseExtendedDict(payload, ErrBadMetadata)
	if err != nil {
		return m, err
	}
	typ, ok := d.Get("msg_type").Int()
	if !ok || typ < 0 || typ > math.MaxInt32 {
		return m, fmt.Errorf("%w: msg_type missing, not an integer, or negative", ErrBadMetadata)
	}
	m.Type = MetadataType(typ)
	piece, ok := d.Get("piece").Int()
	if !m.Type.Known() {
		if ok && piece >= 0 && piece <= math.MaxInt32 {
			m.Piece = int(piece)
		}
		return m, nil
	}
	limit := maxMetadataPieces
	if size > 0 {
		limit = MetadataPieces(size)
	}
	if !ok || piece < 0 || piece >= int64(limit) {
		return MetadataMessage{}, fmt.Errorf("%w: %s for piece %s, want 0 to %d", ErrBadMetadata, m.Type, d.Get("piece").Raw(), limit-1)
	}
	m.Piece = int(piece)
	rest := payload[end:]
	if m.Type != MetadataData {
		if len(rest) > 0 {
			return MetadataMessage{}, fmt.Errorf("%w: %s with %d bytes after its dictionary", ErrBadMetadata, m.Type, len(rest))
		}
		return m, nil
	}
	total, ok := d.Get("total_size").Int()
	switch {
	case !ok || total <= 0 || total > MaxMetadataSize:
		return MetadataMessage{}, fmt.Errorf("%w: data with total_size %s, want 1 to %d", ErrBadMetadata, d.Get("total_size").Raw(), MaxMetadataSize)
	case size > 0 && total != int64(size):
		return MetadataMessage{}, fmt.Errorf("%w: data with total_size %d, but the metadata has %d bytes", ErrBadMetadata, total, size)
	}
	m.TotalSize = int(total)
	if n := MetadataPieces(m.TotalSize); m.Piece >= n {
		return MetadataMessage{}, fmt.Errorf("%w: data for piece %d, want 0 to %d (total_size %d)", ErrBadMetadata, m.Piece, n-1, total)
	}
	if want := MetadataPieceLen(m.TotalSize, m.Piece); len(rest) != want {
		return MetadataMessage{}, fmt.Errorf("%w: piece %d of %d bytes of metadata has %d bytes, want %d", ErrBadMetadata, m.Piece, m.TotalSize, len(rest), want)
	}
	m.Data = rest
	return m, nil
}

// Encode returns the message as an Extended message's payload. It refuses
// what ParseMetadataMessage would refuse (with size 0), and TotalSize or Data
// on a message other than data.
func (m MetadataMessage) Encode() ([]byte, error) {
	if m.Type < 0 || m.Type > math.MaxInt32 {
		return nil, fmt.Errorf("%w: msg_type %d", ErrBadMetadata, int(m.Type))
	}
	if m.Type != MetadataData && (m.TotalSize != 0 || len(m.Data) != 0) {
		return nil, fmt.Errorf("%w: %s with a total size or data", ErrBadMetadata, m.Type)
	}
	if !m.Type.Known() {
		if m.Piece < 0 || int64(m.Piece) > math.MaxInt32 {
			return nil, fmt.Errorf("%w: %s for piece %d", ErrBadMetadata, m.Type, m.Piece)
		}
	}
	limit := maxMetadataPieces
	if m.Type == MetadataData {
		if m.TotalSize <= 0 || m.TotalSize > MaxMetadataSize {
			return nil, fmt.Errorf("%w: data with total size %d, want 1 to %d", ErrBadMetadata, m.TotalSize, MaxMetadataSize)
		}
		limit = MetadataPieces(m.TotalSize)
	}
	if m.Type.Known() && (m.Piece < 0 || m.Piece >= limit) {
		return nil, fmt.Errorf("%w: %s for piece %d, want 0 to %d", ErrBadMetadata, m.Type, m.Piece, limit-1)
	}
	if m.Type == MetadataData && len(m.Data) != MetadataPieceLen(m.TotalSize, m.Piece) {
		return nil, fmt.Errorf("%w: piece %d of %d bytes of metadata with %d bytes, want %d",
			ErrBadMetadata, m.Piece, m.TotalSize, len(m.Data), MetadataPieceLen(m.TotalSize, m.Piece))
	}
	b := make([]byte, 0, 64+len(m.Data))
	b = bencode.AppendInt(bencode.AppendString(append(b, 'd'), "msg_type"), int64(m.Type))
	b = bencode.AppendInt(bencode.AppendString(b, "piece"), int64(m.Piece))
	if m.Type == MetadataData {
		b = bencode.AppendInt(bencode.AppendString(b, "total_size"), int64(m.TotalSize))
	}
	return append(append(b, 'e'), m.Data...), nil
}
