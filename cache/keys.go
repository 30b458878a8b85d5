package cache

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btfs/btfs/metainfo"
)

// Key layout. Fixed widths, so that one piece's prefix is never the prefix
// of another piece's keys.
//
//	p | info-hash (20) | piece (uint32 BE) | chunk (uint16 BE)  -> chunk bytes
//	m | info-hash (20)                                        -> torrent metadata
//	i | info-hash (20)                                        -> info dictionary, for magnet links (info.go)
//	u | info-hash (20)                                        -> recency at the last clean Close (lru.go)
//	\x00format                                                -> store format
//	\x00lru                                                   -> clock and version of that snapshot
const (
	prefixPiece     = 'p'
	prefixMeta      = 'm'
	prefixLRU       = 'u'
	prefixInfo      = 'i'
	torrentKeyLen   = 1 + metainfo.HashSize
	piecePrefixLen  = torrentKeyLen + 4
	chunkKeyLen     = piecePrefixLen + 2
	formatVersion   = 1
	metaVersion     = 1
	keyFormatString = "\x00format"
	keyLRUString    = "\x00lru"
)

func torrentKey(prefix byte, h metainfo.Hash) []byte {
	k := make([]byte, torrentKeyLen)
	k[0] = prefix
	copy(k[1:], h[:])
	return k
}

func putPiecePrefix(k []byte, h metainfo.Hash, piece int) {
	k[0] = prefixPiece
	copy(k[1:], h[:])
	binary.BigEndian.PutUint32(k[torrentKeyLen:], uint32(piece))
}

func piecePrefix(h metainfo.Hash, piece int) []byte {
	k := make([]byte, piecePrefixLen)
	putPiecePrefix(k, h, piece)
	return k
}

func putChunkKey(k []byte, h metainfo.Hash, piece, chunk int) {
	putPiecePrefix(k, h, piece)
	binary.BigEndian.PutUint16(k[piecePrefixLen:], uint16(chunk))
}

// parseChunkKey splits a piece key; ok is false for anything else.
func parseChunkKey(k []byte) (h metainfo.Hash, piece, chunk int, ok bool) {
	if len(k) != chunkKeyLen || k[0] != prefixPiece {
		return h, 0, 0, false
	}
	copy(h[:], k[1:torrentKeyLen])
	return h, int(binary.BigEndian.Uint32(k[torrentKeyLen:])), int(binary.BigEndian.Uint16(k[piecePrefixLen:])), true
}

// meta is what the cache keeps of a torrent: enough to size its pieces and
// name it in `btfs cache ls`.
type meta struct {
	pieceLength, length int64
	name                string
}

func (m meta) numPieces() int {
	return int((m.length + m.pieceLength - 1) / m.pieceLength)
}

func (m meta) pieceSize(i int) int64 {
	return min(m.pieceLength, m.length-int64(i)*m.pieceLength)
}

func metaOf(info *metainfo.Info) meta {
	return meta{pieceLength: info.PieceLength, length: info.Length, name: info.Name}
}

func (m meta) encode() []byte {
	b := []byte{metaVersion}
	b = binary.AppendUvarint(b, uint64(m.pieceLength))
	b = binary.AppendUvarint(b, uint64(m.length))
	return append(b, m.name...)
}

var errBadMeta = errors.New("cache: bad torrent metadata")

func decodeMeta(b []byte) (meta, error) {
	if len(b) == 0 || b[0] != metaVersion {
		return meta{}, errBadMeta
	}
	b = b[1:]
	pl, n := binary.Uvarint(b)
	if n <= 0 {
		return meta{}, errBadMeta
	}
	b = b[n:]
	length, n := binary.Uvarint(b)
	if n <= 0 || pl == 0 || pl > metainfo.MaxSanePieceLength || length == 0 || length > 1<<50 {
		return meta{}, errBadMeta
	}
	return meta{pieceLength: int64(pl), length: int64(length), name: string(b[n:])}, nil
}

func encodeFormat(chunkSize int) []byte {
	return binary.AppendUvarint([]byte{formatVersion}, uint64(chunkSize))
}

func decodeFormat(b []byte) (int, error) {
	if len(b) == 0 || b[0] != formatVersion {
		return 0, fmt.Errorf("cache: unknown store format %x (made by a newer btfs?)", b)
	}
	cs, n := binary.Uvarint(b[1:])
	if n <= 0 || cs < 1<<10 || cs > 64<<20 {
		return 0, fmt.Errorf("cache: bad chunk size in the store format")
	}
	return int(cs), nil
}
