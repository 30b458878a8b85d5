package wire

import (
	"errors"
	"strconv"
)

// ID is a message's type, the byte after its length prefix.
type ID uint8

// The message IDs of BEP 3, BEP 5 (Port) and BEP 10 (Extended).
const (
	Choke         ID = 0
	Unchoke       ID = 1
	Interested    ID = 2
	NotInterested ID = 3
	Have          ID = 4
	Bitfield      ID = 5
	Request       ID = 6
	Piece         ID = 7
	Cancel        ID = 8
	Port          ID = 9
	Extended      ID = 20
)

var idNames = [...]string{
	Choke:         "choke",
	Unchoke:       "unchoke",
	Interested:    "interested",
	NotInterested: "not interested",
	Have:          "have",
	Bitfield:      "bitfield",
	Request:       "request",
	Piece:         "piece",
	Cancel:        "cancel",
	Port:          "port",
	Extended:      "extended",
}

// Known reports whether the codec understands messages of this ID; the
// Reader skips the others.
func (id ID) Known() bool { return int(id) < len(idNames) && idNames[id] != "" }

func (id ID) String() string {
	if id.Known() {
		return idNames[id]
	}
	return "unknown(" + strconv.Itoa(int(id)) + ")"
}

// Errors for messages that break the protocol. The Reader wraps them with
// details; match them with errors.Is.
var (
	ErrMessageTooLong = errors.New("wire: message too long")
	ErrBadLength      = errors.New("wire: wrong message length")
	ErrBadRequest     = errors.New("wire: bad request length")
	ErrBadIndex       = errors.New("wire: piece index out of range")
	ErrBadBitfield    = errors.New("wire: bad bitfield")
	ErrUnknownMessage = errors.New("wire: unknown message ID")
)

// Message is one peer wire message. Which fields are used depends on ID:
//
//	KeepAlive                 none (ID and the rest are ignored)
//	Choke ... NotInterested   none
//	Have                      Index
//	Bitfield                  Bitfield
//	Request, Cancel           Index, Begin, Length
//	Piece                     Index, Begin, Block (the Reader also sets Length
//	                          to len(Block); the Writer ignores Length)
//	Port                      Port
//	Extended                  ExtendedID, Payload (ExtendedID 0 is the
//	                          extension handshake)
//
// A message of an unknown ID comes from the Reader with only ID set.
//
// Messages from a Reader share its buffer: Block, Bitfield and Payload are
// valid only until the next ReadMessage, and a caller that keeps them copies
// them.
type Message struct {
	KeepAlive bool
	ID        ID

	Index, Begin, Length uint32

	Block    []byte
	Bitfield []byte

	Port uint16

	ExtendedID uint8
	Payload    []byte
}
