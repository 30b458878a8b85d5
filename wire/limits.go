package wire

import "github.com/btfs/btfs/metainfo"

// BlockSize is the size of the requests every client sends: BEP 3 notes that
// clients close connections asking for more than 16 KiB, so it is the
// de-facto maximum too. A request for more is refused, and so is a piece
// message carrying more.
const BlockSize = 16 << 10

// Message and field size limits. Each one bounds what a peer can make us
// buffer; a message over a limit is refused before its body is read.
const (
	// MaxExtendedPayload bounds the payload of an extended message (after
	// its one-byte extended ID). The largest one in use is a BEP 9 metadata
	// piece: a 16 KiB block behind a small bencoded dictionary of message
	// type, piece index and total size (under 100 bytes); 1 KiB more leaves
	// room for the extra keys some clients add. Extension handshakes and
	// PEX messages are far smaller.
	MaxExtendedPayload = BlockSize + 1<<10

	// MaxExtensions bounds the number of entries of an extension
	// handshake's "m" dictionary. Real clients name fewer than ten; the
	// bound keeps one peer's map small whatever it sends.
	MaxExtensions = 64

	// maxUnknownBitfield bounds a bitfield that arrives while the piece
	// count is still unknown (a magnet link before its metadata): the
	// bitfield of the largest torrent metainfo loads (256 KiB for
	// MaxPieces), so no peer of a torrent we could fetch is dropped for it.
	// It is read into a buffer of its own, dropped after that message.
	maxUnknownBitfield = metainfo.MaxPieces / 8

	// pieceHeaderLen is a piece message's id, index and begin, before the
	// block. The limit on a piece message is exact, with no slack: a block
	// longer than BlockSize was never requested.
	pieceHeaderLen = 1 + 4 + 4

	// maxPieceLen and maxExtendedLen are the longest piece and extended
	// messages, id bytes included.
	maxPieceLen    = pieceHeaderLen + BlockSize
	maxExtendedLen = 1 + 1 + MaxExtendedPayload

	// msgBufLen is the size of a Reader's message buffer, made on the first
	// message that needs it: the longest piece or extended message. Only a
	// large torrent's bitfield is longer, and that is read once.
	msgBufLen = max(maxPieceLen, maxExtendedLen)

	// readBufferSize is the Reader's bufio size: many small messages per
	// read system call, and one 16 KiB block per call at full speed; a
	// block is copied from it into the message buffer at most once.
	readBufferSize = 16 << 10

	// writeBufferSize is the Writer's bufio size: room for three 16 KiB
	// piece messages, so a peer being served gets few, large writes.
	writeBufferSize = 64 << 10
)

// maxMessageLen is the longest message accepted for a torrent of numPieces
// pieces (0: not known yet), id byte included: the longest of a piece, an
// extended message and a bitfield.
func maxMessageLen(numPieces int) uint64 {
	return max(uint64(maxPieceLen), uint64(maxExtendedLen), 1+uint64(bitfieldLen(numPieces)))
}

// bitfieldLen is the size of a bitfield for numPieces pieces, or the most
// accepted while numPieces is not known.
func bitfieldLen(numPieces int) int {
	if numPieces <= 0 {
		return maxUnknownBitfield
	}
	return (numPieces-1)/8 + 1 // (n+7)/8 without overflow
}
