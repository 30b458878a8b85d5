package wire

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/btfs/btfs/internal/bitfield"
)

// Reader reads messages from one peer connection. It is not safe for
// concurrent use.
type Reader struct {
	br        *bufio.Reader
	numPieces int // 0 while unknown

	hdr      [5]byte  // length prefix and ID
	small    [12]byte // body of a fixed-size message (request is the longest)
	buf      []byte   // body of a piece, bitfield or extended message
	getBlock func(n int) []byte
}

// NewReader returns a Reader for a torrent of numPieces pieces; 0 means the
// count is not known yet (a magnet link before its metadata), and then piece
// indexes and bitfield sizes are not checked, only size limits.
func NewReader(r io.Reader, numPieces int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, readBufferSize), numPieces: max(numPieces, 0)}
}

// SetNumPieces turns on the checks that need the piece count, once the
// metadata is known.
func (r *Reader) SetNumPieces(n int) { r.numPieces = max(n, 0) }

// ReadBlocksInto makes ReadMessage read the block of each piece message into
// a buffer from get (asked for the block's length) instead of the Reader's
// own, so that a block goes from the socket's buffer to where the caller
// keeps it in one copy. The caller owns such a Block; a message that fails
// its checks drops its buffer.
func (r *Reader) ReadBlocksInto(get func(n int) []byte) { r.getBlock = get }

// ReadMessage reads the next message. The Block, Bitfield and Payload of the
// result share the Reader's buffer and are valid only until the next call.
//
// At a clean end of stream between messages it returns io.EOF itself; other
// errors are wrapped (see the package documentation for the checks and the
// errors they give).
func (r *Reader) ReadMessage() (Message, error) {
	if _, err := io.ReadFull(r.br, r.hdr[:4]); err != nil {
		if err == io.EOF {
			return Message{}, io.EOF
		}
		return Message{}, fmt.Errorf("wire: read message length: %w", err)
	}
	n := binary.BigEndian.Uint32(r.hdr[:4])
	if n == 0 {
		return Message{KeepAlive: true}, nil
	}
	if limit := maxMessageLen(r.numPieces); uint64(n) > limit {
		return Message{}, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLong, n, limit)
	}
	if err := readFull(r.br, r.hdr[4:5], "message id", true); err != nil {
		return Message{}, err
	}
	id := ID(r.hdr[4])
	size := int(n - 1) // of the body, after the ID; fits an int as it is under the limit
	if err := r.checkSize(id, size); err != nil {
		return Message{}, err
	}
	if !id.Known() {
		// BEP 3: ignore messages of unknown IDs. Discard reads past the body
		// without buffering it.
		if _, err := r.br.Discard(size); err != nil {
			return Message{}, fmt.Errorf("wire: read %s: %w", id, unexpected(err))
		}
		return Message{ID: id}, nil
	}
	if id == Piece && r.getBlock != nil {
		return r.readPieceInto(size)
	}
	body := r.body(id, size)
	if err := readFull(r.br, body, id.String(), true); err != nil {
		return Message{}, err
	}
	m, err := r.decode(id, body)
	if err != nil {
		return Message{}, err
	}
	return m, nil
}

// readPieceInto reads a piece message's body of size bytes, its block into
// a buffer from getBlock.
func (r *Reader) readPieceInto(size int) (Message, error) {
	hdr := r.small[:pieceHeaderLen-1]
	if err := readFull(r.br, hdr, Piece.String(), true); err != nil {
		return Message{}, err
	}
	m := Message{ID: Piece, Index: binary.BigEndian.Uint32(hdr), Begin: binary.BigEndian.Uint32(hdr[4:])}
	if err := r.checkIndex(m); err != nil {
		return Message{}, err
	}
	m.Block = r.getBlock(size - len(hdr))
	if err := readFull(r.br, m.Block, Piece.String(), true); err != nil {
		return Message{}, err
	}
	m.Length = uint32(len(m.Block))
	return m, nil
}

// checkSize refuses a message whose body size does not fit its ID, before
// the body is read.
func (r *Reader) checkSize(id ID, size int) error {
	want := -1 // exact size of a fixed-size message
	switch id {
	case Choke, Unchoke, Interested, NotInterested:
		want = 0
	case Have:
		want = 4
	case Request, Cancel:
		want = 12
	case Port:
		want = 2
	case Piece:
		if size <= pieceHeaderLen-1 || size > maxPieceLen-1 {
			return fmt.Errorf("%w: piece message of %d bytes, want %d to %d (blocks of 1 to %d)",
				ErrBadLength, 1+size, pieceHeaderLen+1, maxPieceLen, BlockSize)
		}
	case Extended:
		if size < 1 || size > maxExtendedLen-1 {
			return fmt.Errorf("%w: extended message of %d bytes, want 2 to %d", ErrBadLength, 1+size, maxExtendedLen)
		}
	case Bitfield:
		if r.numPieces > 0 && size != bitfieldLen(r.numPieces) {
			return fmt.Errorf("%w: %d bytes for %d pieces, want %d", ErrBadBitfield, size, r.numPieces, bitfieldLen(r.numPieces))
		}
		if size < 1 || size > bitfieldLen(r.numPieces) {
			// Every torrent has a piece, so an empty bitfield is wrong too.
			return fmt.Errorf("%w: %d bytes, want 1 to %d", ErrBadBitfield, size, bitfieldLen(r.numPieces))
		}
	}
	if want >= 0 && size != want {
		return fmt.Errorf("%w: %s message of %d bytes, want %d", ErrBadLength, id, 1+size, 1+want)
	}
	return nil
}

// body returns where to read a message body of size bytes. Bodies of
// fixed-size messages go to a small array; the others to one buffer, made
// once at the size of the longest piece or extended message. A bitfield
// longer than that (a large torrent's) gets a buffer of its own, dropped
// afterwards, rather than growing every connection's buffer for good.
func (r *Reader) body(id ID, size int) []byte {
	switch id {
	case Piece, Bitfield, Extended:
	default:
		return r.small[:size]
	}
	if size > msgBufLen {
		return make([]byte, size)
	}
	if r.buf == nil {
		r.buf = make([]byte, msgBufLen)
	}
	return r.buf[:size]
}

// decode fills a Message from a body whose size checkSize accepted, and
// checks its fields.
func (r *Reader) decode(id ID, b []byte) (Message, error) {
	m := Message{ID: id}
	switch id {
	case Have:
		m.Index = binary.BigEndian.Uint32(b)
		return m, r.checkIndex(m)
	case Request, Cancel:
		m.Index = binary.BigEndian.Uint32(b)
		m.Begin = binary.BigEndian.Uint32(b[4:])
		m.Length = binary.BigEndian.Uint32(b[8:])
		if m.Length == 0 || m.Length > BlockSize {
			return Message{}, fmt.Errorf("%w: %s for %d bytes, want 1 to %d", ErrBadRequest, id, m.Length, BlockSize)
		}
		return m, r.checkIndex(m)
	case Piece:
		m.Index = binary.BigEndian.Uint32(b)
		m.Begin = binary.BigEndian.Uint32(b[4:])
		m.Block = b[8:]
		m.Length = uint32(len(m.Block))
		return m, r.checkIndex(m)
	case Bitfield:
		if r.numPieces > 0 {
			// Only the spare bits are left to check: checkSize did the length.
			if _, err := bitfield.FromBytes(b, r.numPieces); err != nil {
				return Message{}, fmt.Errorf("%w: %w", ErrBadBitfield, err)
			}
		}
		m.Bitfield = b
	case Port:
		m.Port = binary.BigEndian.Uint16(b)
	case Extended:
		m.ExtendedID = b[0]
		m.Payload = b[1:]
	}
	return m, nil
}

// checkIndex refuses a message naming a piece the torrent does not have.
func (r *Reader) checkIndex(m Message) error {
	if r.numPieces > 0 && uint64(m.Index) >= uint64(r.numPieces) {
		return fmt.Errorf("%w: %s for piece %d, torrent has %d", ErrBadIndex, m.ID, m.Index, r.numPieces)
	}
	return nil
}

// unexpected turns io.EOF inside a message into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
