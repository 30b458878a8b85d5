package tracker

import (
	"net/netip"
	"strings"

	"github.com/btfs/btfs/metainfo"
)

// announceParams is an HTTP announce as its query string says it, before any
// policy: nothing here knows who sent it or whether the tracker will serve it.
type announceParams struct {
	infoHash   metainfo.Hash
	peerID     [20]byte
	port       uint16
	uploaded   int64
	downloaded int64
	left       int64
	event      Event
	numWant    int        // -1 when absent
	compact    bool       // true unless compact=0
	noPeerID   bool       // no_peer_id=1: leave "peer id" out of the dictionary model
	ip         netip.Addr // the ip parameter, when it is an address literal
}

// Parse errors: the failure reason the client gets back.
const (
	errBadEscape       failure = "malformed percent-encoding"
	errDuplicate       failure = "parameter given twice"
	errMissingInfoHash failure = "missing info_hash"
	errBadInfoHash     failure = "info_hash must be 20 bytes"
	errMissingPeerID   failure = "missing peer_id"
	errBadPeerID       failure = "peer_id must be 20 bytes"
	errMissingPort     failure = "missing port"
	errBadPort         failure = "port must be 1-65535"
	errMissingLeft     failure = "missing left"
	errBadNumber       failure = "uploaded, downloaded, left and numwant must be non-negative integers"
	errBadEvent        failure = "unknown event"
	errBadFlag         failure = "compact and no_peer_id must be 0 or 1"
	errBadKey          failure = "key too long"
	errQueryTooLong    failure = "request too long"
	errTooManyHashes   failure = "too many info_hash parameters"
	errNoScrapeHash    failure = "scrape needs at least one info_hash"
)

// Bits of parseAnnounceQuery's seen set, one per parameter, to refuse
// duplicates: two values for one field are ambiguous, and no real client
// sends them.
const (
	seenInfoHash = 1 << iota
	seenPeerID
	seenPort
	seenUploaded
	seenDownloaded
	seenLeft
	seenEvent
	seenNumWant
	seenCompact
	seenNoPeerID
	seenIP
	seenKey
)

// parseAnnounceQuery parses an announce's raw (still escaped) query string
// into p. Unknown parameters are skipped, but their escaping must be valid.
// '+' decodes as a space, as in HTML form encoding: clients that write it
// mean that, and careful ones escape a literal '+' as %2B. It allocates
// nothing unless the ip parameter is present.
func parseAnnounceQuery(q string, p *announceParams) error {
	*p = announceParams{numWant: -1, compact: true}
	seen := 0
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		rawName, raw, _ := strings.Cut(pair, "=")
		var nameBuf [maxParamName]byte
		name, err := unescape(nameBuf[:], rawName)
		if err == errTooLong {
			name, err = nil, checkEscapes(rawName) // an unknown name
		}
		if err != nil {
			return err
		}
		bit, err := p.set(string(name), raw)
		if err != nil {
			return err
		}
		if seen&bit != 0 {
			return errDuplicate
		}
		seen |= bit
	}
	switch {
	case seen&seenInfoHash == 0:
		return errMissingInfoHash
	case seen&seenPeerID == 0:
		return errMissingPeerID
	case seen&seenPort == 0:
		return errMissingPort
	case seen&seenLeft == 0:
		return errMissingLeft
	}
	return nil
}

// set stores one parameter and returns its seen bit (0 for unknown ones).
func (p *announceParams) set(name, raw string) (int, error) {
	var err error
	switch name {
	case "info_hash":
		return seenInfoHash, unescapeExact(p.infoHash[:], raw, errBadInfoHash)
	case "peer_id":
		return seenPeerID, unescapeExact(p.peerID[:], raw, errBadPeerID)
	case "port":
		n, err := parseNumber(raw)
		if err != nil || n < 1 || n > 65535 {
			return seenPort, errBadPort
		}
		p.port = uint16(n)
		return seenPort, nil
	case "uploaded":
		p.uploaded, err = parseNumber(raw)
		return seenUploaded, err
	case "downloaded":
		p.downloaded, err = parseNumber(raw)
		return seenDownloaded, err
	case "left":
		p.left, err = parseNumber(raw)
		return seenLeft, err
	case "numwant":
		n, err := parseNumber(raw)
		p.numWant = int(min(n, 1<<30))
		return seenNumWant, err
	case "event":
		p.event, err = parseEvent(raw)
		return seenEvent, err
	case "compact":
		p.compact, err = parseFlag(raw)
		return seenCompact, err
	case "no_peer_id":
		p.noPeerID, err = parseFlag(raw)
		return seenNoPeerID, err
	case "ip":
		var buf [maxIPParam]byte
		b, err := unescape(buf[:], raw)
		if err != nil {
			return seenIP, err
		}
		// A name or a malformed literal is ignored, not refused: clients
		// send host names here, and we never resolve them.
		if a, perr := netip.ParseAddr(string(b)); perr == nil && a.Zone() == "" {
			p.ip = a.Unmap()
		}
		return seenIP, nil
	case "key":
		// Accepted and checked, not used: peers are keyed by address (see
		// swarm.go), so a peer whose address changes is a new peer.
		var buf [maxKeyParam]byte
		if _, err := unescape(buf[:], raw); err != nil {
			if err == errTooLong {
				err = errBadKey
			}
			return seenKey, err
		}
		return seenKey, nil
	}
	return 0, checkEscapes(raw)
}

func parseEvent(raw string) (Event, error) {
	var buf [16]byte
	b, err := unescape(buf[:], raw)
	if err != nil {
		return 0, errBadEvent
	}
	switch string(b) {
	case "", "empty":
		return EventNone, nil
	case "paused":
		// BEP 21: a partial seed pausing. It stays in the swarm, so for
		// this tracker it is a regular announce.
		return EventNone, nil
	case "started":
		return EventStarted, nil
	case "completed":
		return EventCompleted, nil
	case "stopped":
		return EventStopped, nil
	}
	return 0, errBadEvent
}

func parseFlag(raw string) (bool, error) {
	switch raw {
	case "0":
		return false, nil
	case "1":
		return true, nil
	}
	return false, errBadFlag
}

// parseNumber reads a non-negative decimal int64. Digits are never escaped
// by clients, so an escaped or signed number is refused along with the rest.
func parseNumber(s string) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, errBadNumber
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errBadNumber
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<63-1 {
		return 0, errBadNumber
	}
	return int64(n), nil
}

// parseScrapeQuery collects the info_hash parameters of a scrape into hashes
// and returns how many there were. Other parameters are skipped.
func parseScrapeQuery(q string, hashes *[maxScrapeHashes]metainfo.Hash) (int, error) {
	n := 0
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		rawName, raw, _ := strings.Cut(pair, "=")
		var nameBuf [maxParamName]byte
		name, err := unescape(nameBuf[:], rawName)
		if err == errTooLong {
			name, err = nil, checkEscapes(rawName)
		}
		if err != nil {
			return 0, err
		}
		if string(name) != "info_hash" {
			if err := checkEscapes(raw); err != nil {
				return 0, err
			}
			continue
		}
		if n == maxScrapeHashes {
			return 0, errTooManyHashes
		}
		if err := unescapeExact(hashes[n][:], raw, errBadInfoHash); err != nil {
			return 0, err
		}
		n++
	}
	if n == 0 {
		return 0, errNoScrapeHash
	}
	return n, nil
}
