package tracker

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/btfs/btfs/metainfo"
)

// BEP 15 wire constants.
const (
	udpProtocolID = 0x41727101980 // the connection id of a connect request

	actionConnect  = 0
	actionAnnounce = 1
	actionScrape   = 2
	actionError    = 3

	udpHeaderLen       = 16 // connection id, action, transaction id
	udpAnnounceLen     = 98 // an announce request without BEP 41 options
	udpConnectReplyLen = 16
	udpAnnounceHdrLen  = 20 // an announce reply before its peers
	udpScrapeEntryLen  = 12
	udpErrorHdrLen     = 8
)

// errUDPRunt marks a datagram too short to carry a transaction id: there is
// nobody to answer, so the server drops it.
var errUDPRunt = errors.New("tracker: UDP packet shorter than a header")

// udpRequest is a client's BEP 15 packet, as the server reads it. Which of
// the fields past the header are set depends on action.
type udpRequest struct {
	connID   uint64
	action   uint32
	txID     uint32
	announce udpAnnounce // actionAnnounce
	hashes   []byte      // actionScrape: n×20 bytes, sharing the packet
}

type udpAnnounce struct {
	infoHash   metainfo.Hash
	peerID     [20]byte
	downloaded int64
	left       int64
	uploaded   int64
	event      Event
	ip         netip.Addr // zero when the packet says 0
	key        uint32
	numWant    int32 // negative: the tracker's default
	port       uint16
}

// UDP request errors, sent back in an error packet.
const (
	errUDPAction    failure = "unknown action"
	errUDPShort     failure = "packet too short"
	errUDPNegative  failure = "negative amount"
	errUDPScrapeLen failure = "bad scrape length"
)

// parseUDPRequest reads a client packet into r. Trailing bytes after an
// announce (BEP 41 options) are ignored. It checks syntax only: the
// connection id and the field values are the server's business.
func parseUDPRequest(b []byte, r *udpRequest) error {
	if len(b) < udpHeaderLen {
		return errUDPRunt
	}
	*r = udpRequest{
		connID: binary.BigEndian.Uint64(b),
		action: binary.BigEndian.Uint32(b[8:]),
		txID:   binary.BigEndian.Uint32(b[12:]),
	}
	switch r.action {
	case actionConnect:
		return nil
	case actionAnnounce:
		if len(b) < udpAnnounceLen {
			return errUDPShort
		}
		a := &r.announce
		copy(a.infoHash[:], b[16:36])
		copy(a.peerID[:], b[36:56])
		a.downloaded = int64(binary.BigEndian.Uint64(b[56:]))
		a.left = int64(binary.BigEndian.Uint64(b[64:]))
		a.uploaded = int64(binary.BigEndian.Uint64(b[72:]))
		a.event = Event(binary.BigEndian.Uint32(b[80:]))
		if ip := [4]byte(b[84:88]); ip != [4]byte{} {
			a.ip = netip.AddrFrom4(ip)
		}
		a.key = binary.BigEndian.Uint32(b[88:])
		a.numWant = int32(binary.BigEndian.Uint32(b[92:]))
		a.port = binary.BigEndian.Uint16(b[96:])
		if a.downloaded < 0 || a.left < 0 || a.uploaded < 0 {
			return errUDPNegative
		}
		return nil
	case actionScrape:
		h := b[udpHeaderLen:]
		if len(h) == 0 || len(h)%20 != 0 || len(h)/20 > maxScrapeHashes {
			return errUDPScrapeLen
		}
		r.hashes = h
		return nil
	}
	return errUDPAction
}

// udpReply is a tracker's BEP 15 packet, as the client reads it.
type udpReply struct {
	action                      uint32
	txID                        uint32
	connID                      uint64 // actionConnect
	interval, leechers, seeders uint32 // actionAnnounce
	peers                       []byte // actionAnnounce: compact peers, sharing the packet
	scrape                      []byte // actionScrape: 12-byte entries, sharing the packet
	message                     string // actionError
}

// parseUDPReply reads a tracker packet. The peers' length is checked by the
// caller, which knows whether they are 6 or 18 bytes each.
func parseUDPReply(b []byte) (udpReply, error) {
	if len(b) < 8 {
		return udpReply{}, errUDPRunt
	}
	r := udpReply{action: binary.BigEndian.Uint32(b), txID: binary.BigEndian.Uint32(b[4:])}
	switch r.action {
	case actionConnect:
		if len(b) < udpConnectReplyLen {
			return r, errUDPShort
		}
		r.connID = binary.BigEndian.Uint64(b[8:])
	case actionAnnounce:
		if len(b) < udpAnnounceHdrLen {
			return r, errUDPShort
		}
		r.interval = binary.BigEndian.Uint32(b[8:])
		r.leechers = binary.BigEndian.Uint32(b[12:])
		r.seeders = binary.BigEndian.Uint32(b[16:])
		r.peers = b[udpAnnounceHdrLen:]
	case actionScrape:
		if (len(b)-8)%udpScrapeEntryLen != 0 {
			return r, errUDPScrapeLen
		}
		r.scrape = b[8:]
	case actionError:
		r.message = string(b[8:])
	default:
		return r, errUDPAction
	}
	return r, nil
}

func appendUDPHeader(dst []byte, connID uint64, action, txID uint32) []byte {
	dst = binary.BigEndian.AppendUint64(dst, connID)
	dst = binary.BigEndian.AppendUint32(dst, action)
	return binary.BigEndian.AppendUint32(dst, txID)
}

func appendUDPConnect(dst []byte, txID uint32) []byte {
	return appendUDPHeader(dst, udpProtocolID, actionConnect, txID)
}

func appendUDPAnnounce(dst []byte, connID uint64, txID uint32, req *AnnounceRequest, numWant int32) []byte {
	dst = appendUDPHeader(dst, connID, actionAnnounce, txID)
	dst = append(dst, req.InfoHash[:]...)
	dst = append(dst, req.PeerID[:]...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(req.Downloaded))
	dst = binary.BigEndian.AppendUint64(dst, uint64(req.Left))
	dst = binary.BigEndian.AppendUint64(dst, uint64(req.Uploaded))
	dst = binary.BigEndian.AppendUint32(dst, uint32(req.Event))
	var ip [4]byte
	if req.IP.Is4() {
		ip = req.IP.As4()
	}
	dst = append(dst, ip[:]...)
	dst = binary.BigEndian.AppendUint32(dst, req.Key)
	dst = binary.BigEndian.AppendUint32(dst, uint32(numWant))
	return binary.BigEndian.AppendUint16(dst, req.Port)
}

func appendUDPScrape(dst []byte, connID uint64, txID uint32, hashes []metainfo.Hash) []byte {
	dst = appendUDPHeader(dst, connID, actionScrape, txID)
	for _, h := range hashes {
		dst = append(dst, h[:]...)
	}
	return dst
}

func appendUDPReplyHeader(dst []byte, action, txID uint32) []byte {
	dst = binary.BigEndian.AppendUint32(dst, action)
	return binary.BigEndian.AppendUint32(dst, txID)
}

func appendUDPError(dst []byte, txID uint32, msg string) []byte {
	return append(appendUDPReplyHeader(dst, actionError, txID), msg...)
}

func appendUDPScrapeEntry(dst []byte, s ScrapeStats) []byte {
	dst = binary.BigEndian.AppendUint32(dst, clampU32(s.Seeders))
	dst = binary.BigEndian.AppendUint32(dst, clampU32(s.Downloaded))
	return binary.BigEndian.AppendUint32(dst, clampU32(s.Leechers))
}

func clampU32[T int | int64](n T) uint32 {
	return uint32(max(0, min(int64(n), 1<<32-1)))
}
