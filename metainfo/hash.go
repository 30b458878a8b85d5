package metainfo

import (
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
)

// HashSize is the size of a SHA-1 digest: an info-hash or a piece hash.
const HashSize = 20

// Hash is a SHA-1 digest. An info-hash identifies a torrent: it is the SHA-1
// of the bencoded info dictionary exactly as it appears in the .torrent file.
type Hash [HashSize]byte

// String returns the lowercase hex form used in magnet links and by other clients.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeros (unset).
func (h Hash) IsZero() bool { return h == Hash{} }

// ParseHash reads an info-hash in hex (40 characters, either case) or base32
// (32 characters, as older magnet links carry it).
func ParseHash(s string) (Hash, error) {
	var h Hash
	switch len(s) {
	case 2 * HashSize:
		if _, err := hex.Decode(h[:], []byte(s)); err != nil {
			return Hash{}, fmt.Errorf("metainfo: info-hash %q is not hex: %w", s, err)
		}
	case 32:
		b, err := base32.StdEncoding.DecodeString(strings.ToUpper(s))
		if err != nil {
			return Hash{}, fmt.Errorf("metainfo: info-hash %q is not base32: %w", s, err)
		}
		copy(h[:], b)
	default:
		return Hash{}, fmt.Errorf("metainfo: info-hash %q has %d characters, want 40 (hex) or 32 (base32)", s, len(s))
	}
	return h, nil
}
