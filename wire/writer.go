package wire

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// maxHeaderLen is the longest encoded message before any block, bitfield or
// payload: a request's length prefix, ID and three integers.
const maxHeaderLen = 4 + 1 + 12

// Writer buffers messages to one peer connection. Nothing reaches the
// connection until the buffer fills or Flush is called. It is not safe for
// concurrent use.
type Writer struct {
	bw  *bufio.Writer
	hdr [maxHeaderLen]byte
}

// NewWriter returns a Writer with a 64 KiB buffer.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, writeBufferSize)}
}

// WriteMessage encodes m into the buffer. It refuses what a Reader would
// refuse for its size: requests and pieces of 0 or more than BlockSize
// bytes, extended payloads over MaxExtendedPayload, empty bitfields, and
// unknown IDs (ErrUnknownMessage). It does not allocate; a piece's block is
// copied into the buffer once, or written straight through when larger.
func (w *Writer) WriteMessage(m Message) error {
	h, tail, err := w.encode(m)
	if err != nil {
		return err
	}
	if _, err = w.bw.Write(h); err == nil && len(tail) > 0 {
		_, err = w.bw.Write(tail)
	}
	if err != nil {
		if m.KeepAlive {
			return fmt.Errorf("wire: write keep-alive: %w", err)
		}
		return fmt.Errorf("wire: write %s: %w", m.ID, err)
	}
	return nil
}

// Flush writes the buffered messages to the connection.
func (w *Writer) Flush() error {
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("wire: flush: %w", err)
	}
	return nil
}

// encode returns m's header, in w.hdr, and the bytes that follow it.
func (w *Writer) encode(m Message) (h, tail []byte, err error) {
	be := binary.BigEndian
	h = w.hdr[:0]
	if m.KeepAlive {
		return be.AppendUint32(h, 0), nil, nil
	}
	switch m.ID {
	case Choke, Unchoke, Interested, NotInterested:
		h = frame(h, m.ID, 0)
	case Have:
		h = be.AppendUint32(frame(h, m.ID, 4), m.Index)
	case Request, Cancel:
		if m.Length == 0 || m.Length > BlockSize {
			return nil, nil, fmt.Errorf("%w: %s for %d bytes, want 1 to %d", ErrBadRequest, m.ID, m.Length, BlockSize)
		}
		h = frame(h, m.ID, 12)
		h = be.AppendUint32(be.AppendUint32(be.AppendUint32(h, m.Index), m.Begin), m.Length)
	case Piece:
		if len(m.Block) == 0 || len(m.Block) > BlockSize {
			return nil, nil, fmt.Errorf("%w: piece with a block of %d bytes, want 1 to %d", ErrBadLength, len(m.Block), BlockSize)
		}
		h = frame(h, m.ID, 8+len(m.Block))
		h = be.AppendUint32(be.AppendUint32(h, m.Index), m.Begin)
		tail = m.Block
	case Bitfield:
		if len(m.Bitfield) == 0 || uint64(len(m.Bitfield)) >= math.MaxUint32 {
			return nil, nil, fmt.Errorf("%w: %d bytes", ErrBadBitfield, len(m.Bitfield))
		}
		h = frame(h, m.ID, len(m.Bitfield))
		tail = m.Bitfield
	case Port:
		h = be.AppendUint16(frame(h, m.ID, 2), m.Port)
	case Extended:
		if len(m.Payload) > MaxExtendedPayload {
			return nil, nil, fmt.Errorf("%w: extended payload of %d bytes, limit %d", ErrMessageTooLong, len(m.Payload), MaxExtendedPayload)
		}
		h = append(frame(h, m.ID, 1+len(m.Payload)), m.ExtendedID)
		tail = m.Payload
	default:
		return nil, nil, fmt.Errorf("%w: %s", ErrUnknownMessage, m.ID)
	}
	return h, tail, nil
}

// frame appends a length prefix for a body of size bytes, and the ID.
func frame(h []byte, id ID, size int) []byte {
	return append(binary.BigEndian.AppendUint32(h, uint32(1+size)), byte(id))
}
