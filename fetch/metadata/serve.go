package metadata

import (
	"github.com/btfs/btfs/wire"
)

// LocalExtendedID is the ID btfs asks peers to send ut_metadata messages
// with, in its extension handshake's M (libtorrent's number; any of 1 to 255
// would do). The engine routes Extended messages of this ID to Serve.
const LocalExtendedID = 2

// Advertise adds ut_metadata to an extension handshake: the ID peers are to
// use (LocalExtendedID) and, when infoSize is from 1 to wire.MaxMetadataSize,
// the metadata_size that tells them we have the metadata. With infoSize 0 (a
// magnet link whose metadata has not come yet) peers learn that we speak
// ut_metadata but have nothing to give.
func Advertise(h *wire.ExtendedHandshake, infoSize int) {
	if h.M == nil {
		h.M = map[string]int{}
	}
	h.M[wire.MetadataExtension] = LocalExtendedID
	if infoSize > 0 && infoSize <= wire.MaxMetadataSize {
		h.MetadataSize = infoSize
	}
}

// Serve answers one ut_metadata message from a peer (the payload of an
// Extended message with LocalExtendedID), given the torrent's info
// dictionary, or nil while we do not have it. It returns the payload to send
// back, in an Extended message with the peer's own ut_metadata ID, or nil
// when nothing is to be sent.
//
// A request gets the piece's data, or a reject when info is nil or larger
// than wire.MaxMetadataSize. Data and reject messages (answers to requests
// of ours) and unknown msg_types get nothing. A message that breaks BEP 9 (a
// piece index past the metadata's end, among others) is an error matching
// wire.ErrBadMetadata, after which the engine closes the connection as for
// any protocol error.
//
// Serve keeps no state and allocates only the reply. Bounding how often a
// peer may ask is the engine's affair, as for piece requests.
func Serve(info, payload []byte) ([]byte, error) {
	m, err := wire.ParseMetadataMessage(payload, len(info))
	if err != nil {
		return nil, err
	}
	if m.Type != wire.MetadataRequest {
		return nil, nil
	}
	reply := wire.MetadataMessage{Type: wire.MetadataReject, Piece: m.Piece}
	if len(info) > 0 && len(info) <= wire.MaxMetadataSize {
		off := m.Piece * wire.MetadataPieceSize
		reply = wire.MetadataMessage{Type: wire.MetadataData, Piece: m.Piece, TotalSize: len(info),
			Data: info[off : off+wire.MetadataPieceLen(len(info), m.Piece)]}
	}
	return reply.Encode()
}
