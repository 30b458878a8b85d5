package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/btfs/btfs/bencode"
)

// ExtendedHandshakeID is the ExtendedID of the BEP 10 extension handshake;
// the other IDs are the ones each side assigns in its handshake's M.
const ExtendedHandshakeID = 0

// ErrBadExtendedHandshake reports an extension handshake that is not a
// bencoded dictionary, or one over a limit.
var ErrBadExtendedHandshake = errors.New("wire: bad extended handshake")

// ExtendedHandshake is the BEP 10 extension handshake dictionary, with the
// keys btfs uses. A zero field was absent (or unusable, see
// ParseExtendedHandshake) and is not encoded.
type ExtendedHandshake struct {
	// M maps the extensions the sender supports ("ut_metadata", ...) to
	// the ExtendedID it wants to receive them with, 1 to 255; 0 says the
	// sender turns that extension off.
	M map[string]int
	// Port ("p") is the sender's listening port.
	Port int
	// Version ("v") is the sender's client name and version.
	Version string
	// ReqQ ("reqq") is how many outstanding requests the sender queues.
	ReqQ int
	// MetadataSize ("metadata_size", BEP 9) is the size of the torrent's
	// info dictionary.
	MetadataSize int
	// YourIP ("yourip") is the receiver's address as the sender sees it:
	// 4 bytes (IPv4) or 16 (IPv6).
	YourIP []byte
}

// extendedDict is the encoded form, field for field. M is always sent, even
// empty: it is the one key BEP 10 gives every handshake.
type extendedDict struct {
	M            map[string]int `bencode:"m"`
	Port         int            `bencode:"p,omitempty"`
	Version      string         `bencode:"v,omitempty"`
	ReqQ         int            `bencode:"reqq,omitempty"`
	MetadataSize int            `bencode:"metadata_size,omitempty"`
	YourIP       []byte         `bencode:"yourip,omitempty"`
}

// Encode returns the bencoded dictionary, the payload of an Extended
// message with ExtendedHandshakeID. It refuses values
// ParseExtendedHandshake would drop, and a result over MaxExtendedPayload.
func (h ExtendedHandshake) Encode() ([]byte, error) {
	if len(h.M) > MaxExtensions {
		return nil, fmt.Errorf("%w: %d extensions, limit %d", ErrBadExtendedHandshake, len(h.M), MaxExtensions)
	}
	for name, id := range h.M {
		if id < 0 || id > math.MaxUint8 {
			return nil, fmt.Errorf("%w: extension %q with ID %d, want 0 to 255", ErrBadExtendedHandshake, name, id)
		}
	}
	switch {
	case h.Port < 0 || h.Port > math.MaxUint16:
		return nil, fmt.Errorf("%w: port %d", ErrBadExtendedHandshake, h.Port)
	case h.ReqQ < 0 || h.ReqQ > math.MaxInt32:
		return nil, fmt.Errorf("%w: reqq %d", ErrBadExtendedHandshake, h.ReqQ)
	case h.MetadataSize < 0 || h.MetadataSize > math.MaxInt32:
		return nil, fmt.Errorf("%w: metadata size %d", ErrBadExtendedHandshake, h.MetadataSize)
	case len(h.YourIP) != 0 && len(h.YourIP) != 4 && len(h.YourIP) != 16:
		return nil, fmt.Errorf("%w: yourip of %d bytes, want 4 or 16", ErrBadExtendedHandshake, len(h.YourIP))
	}
	b, err := bencode.Marshal(extendedDict(h))
	if err != nil {
		return nil, fmt.Errorf("wire: encode extended handshake: %w", err)
	}
	if len(b) > MaxExtendedPayload {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadExtendedHandshake, len(b), MaxExtendedPayload)
	}
	return b, nil
}

// ParseExtendedHandshake reads an extension handshake payload. Like other
// clients it is lenient where that is harmless: unknown keys, keys out of
// order, and bytes after the dictionary are ignored, and so is a known key
// whose value has the wrong type or an impossible value (a port over 65535,
// an extension ID over 255, a yourip that is no address). It fails on a
// payload that is not a dictionary, is over MaxExtendedPayload, or names
// more than MaxExtensions extensions. M is nil only when "m" was absent or
// not a dictionary. The result shares no memory with payload.
func ParseExtendedHandshake(payload []byte) (ExtendedHandshake, error) {
	var h ExtendedHandshake
	d, _, err := parseExtendedDict(payload, ErrBadExtendedHandshake)
	if err != nil {
		return h, err
	}
	for key, v := range d.Entries() {
		switch string(key) {
		case "m":
			if h.M, err = parseExtensions(v); err != nil {
				return ExtendedHandshake{}, err
			}
		case "p":
			h.Port = intIn(v, 1, math.MaxUint16)
		case "v":
			h.Version, _ = v.Str()
		case "reqq":
			h.ReqQ = intIn(v, 1, math.MaxInt32)
		case "metadata_size":
			h.MetadataSize = intIn(v, 1, math.MaxInt32)
		case "yourip":
			if ip, ok := v.Bytes(); ok && (len(ip) == 4 || len(ip) == 16) {
				h.YourIP = bytes.Clone(ip) // not the caller's buffer, often a Reader's
			}
		}
	}
	return h, nil
}

// parseExtendedDict is the opening every extension message's parser shares:
// it refuses a payload over MaxExtendedPayload or one that does not start
// with a bencoded dictionary (keys in any order, as clients send them), each
// as an error matching bad. It returns the dictionary and where it ends.
func parseExtendedDict(payload []byte, bad error) (bencode.Value, int, error) {
	if len(payload) > MaxExtendedPayload {
		return bencode.Value{}, 0, fmt.Errorf("%w: %d bytes, limit %d", bad, len(payload), MaxExtendedPayload)
	}
	d, end, err := bencode.Options{AllowUnsortedKeys: true}.ParsePrefix(payload)
	if err != nil {
		return bencode.Value{}, 0, fmt.Errorf("%w: %w", bad, err)
	}
	if d.Kind() != bencode.Dict {
		return bencode.Value{}, 0, fmt.Errorf("%w: a %s, not a dictionary", bad, d.Kind())
	}
	return d, end, nil
}

// parseExtensions reads the "m" dictionary; it is nil if v is not one.
func parseExtensions(v bencode.Value) (map[string]int, error) {
	if v.Kind() != bencode.Dict {
		return nil, nil
	}
	if n := v.Len(); n > MaxExtensions {
		return nil, fmt.Errorf("%w: %d extensions, limit %d", ErrBadExtendedHandshake, n, MaxExtensions)
	}
	m := make(map[string]int)
	for name, id := range v.Entries() {
		if n, ok := id.Int(); ok && n >= 0 && n <= math.MaxUint8 {
			m[string(name)] = int(n)
		}
	}
	return m, nil
}

// intIn returns v's integer if it is one in [lo, hi], and 0 otherwise.
func intIn(v bencode.Value, lo, hi int64) int {
	if n, ok := v.Int(); ok && n >= lo && n <= hi {
		return int(n)
	}
	return 0
}
