// Package wire is the BitTorrent peer wire protocol codec: the handshake of
// BEP 3, its length-prefixed messages, and the framing of BEP 10's extension
// protocol with its handshake dictionary.
//
// It is protocol only: no goroutines, no peer state, no choice of what to
// request or whom to serve. A connection's owner reads with a Reader and
// writes with a Writer, each used from one goroutine at a time.
//
// Rules the Reader enforces, so that a misbehaving peer costs at most one
// bounded buffer and is recognised by a named error (errors.Is):
//
//   - A length prefix over the largest message the torrent allows
//     (ErrMessageTooLong) is refused before anything is allocated or read.
//   - Fixed-size messages (choke, unchoke, interested, not interested, have,
//     request, cancel, port) must have exactly their size (ErrBadLength), and
//     so must a bitfield once the piece count is known (ErrBadBitfield).
//   - A piece carries 1 to BlockSize bytes (ErrBadLength); a request or
//     cancel asks for 1 to BlockSize bytes (ErrBadRequest).
//   - Once the piece count is known, have, request, cancel and piece must
//     name an existing piece (ErrBadIndex) and a bitfield must have its spare
//     bits clear (ErrBadBitfield).
//   - Unknown message IDs (the fast extension's 13-17, BEP 52's 21-23, ...)
//     are read past and returned with no payload and no error, as BEP 3 asks;
//     the length limit still applies to them.
//   - A stream that ends between messages gives io.EOF; one that ends inside
//     a message gives an error matching io.ErrUnexpectedEOF.
//
// After any error but io.EOF the stream is no longer trusted: the caller
// closes the connection.
//
// Files, by concern:
//
//	limits.go      every size and count limit, with the reason for it
//	handshake.go   BEP 3 handshake, peer ids, reserved bits
//	message.go     message IDs, the Message struct, errors
//	reader.go      Reader: framing and validation of incoming messages
//	writer.go      Writer: encoding of outgoing messages
//	extended.go    BEP 10 extension handshake dictionary
package wire
