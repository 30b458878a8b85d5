package tracker

import (
	"net/netip"
	"time"

	"github.com/btfs/btfs/metainfo"
)

// Event is what an announce tells the tracker about the peer's session. The
// values are the numbers BEP 15 puts on the wire.
type Event uint32

// The announce events of BEP 3.
const (
	EventNone      Event = iota // a regular, periodic announce
	EventCompleted              // the download just finished
	EventStarted                // the first announce of a session
	EventStopped                // the peer is leaving the swarm
)

// String returns the event's HTTP spelling ("" for EventNone).
func (e Event) String() string {
	switch e {
	case EventCompleted:
		return "completed"
	case EventStarted:
		return "started"
	case EventStopped:
		return "stopped"
	}
	return ""
}

// AnnounceRequest is one announce, as a client sends it.
type AnnounceRequest struct {
	InfoHash   metainfo.Hash
	PeerID     [20]byte
	Port       uint16 // where the peer accepts connections
	Uploaded   int64  // bytes, this session
	Downloaded int64  // bytes, this session
	Left       int64  // bytes still missing; 0 makes the peer a seeder
	Event      Event
	// NumWant is how many peers the client wants; 0 or less leaves it to the
	// tracker's default. A stopped announce always asks for none.
	NumWant int
	// Key is a random number fixed for the client's session; some trackers
	// use it to recognise a peer whose address changed.
	Key uint32
	// IP, when valid, is the address the peer asks to be advertised at.
	// Trackers usually honour it only from private networks.
	IP netip.Addr
	// TrackerID echoes the "tracker id" an HTTP tracker handed out earlier.
	TrackerID string
}

// AnnounceResponse is a tracker's answer to an announce.
type AnnounceResponse struct {
	Interval    time.Duration // wait this long before the next regular announce
	MinInterval time.Duration // never announce again sooner than this (0: unset)
	Seeders     int           // "complete"
	Leechers    int           // "incomplete"
	Peers       []Peer
	Warning     string // a "warning message": the announce still worked
	TrackerID   string // to echo in later announces (HTTP only)
}

// Peer is an address to connect to, as a tracker hands it out.
type Peer struct {
	Addr netip.AddrPort
	ID   [20]byte // all zero when the tracker sent compact peers
}

// ScrapeStats are a tracker's counts for one torrent (BEP 48).
type ScrapeStats struct {
	Seeders    int // "complete": peers with the whole torrent
	Leechers   int // "incomplete"
	Downloaded int // completed downloads the tracker has counted
}

// FailureError is a tracker's refusal: the "failure reason" of an HTTP
// tracker or the message of a UDP error packet. Callers show Reason to the
// user; it is the tracker's own words.
type FailureError struct {
	Reason string
}

func (e *FailureError) Error() string { return "failure reason: " + e.Reason }

// failure is a refusal the server explains to the client: the text of a
// "failure reason" (HTTP) or of an error packet (UDP). Parse and policy
// errors are failures so that one value serves the log and the reply.
type failure string

func (f failure) Error() string { return "tracker: " + string(f) }

// Refusals the server sends; the parse errors live beside the parsers.
const (
	errNotAllowed      failure = "torrent not allowed"
	errTooManyTorrents failure = "tracker full: too many torrents"
	errNoAddress       failure = "cannot tell your address"
	// The per-address limits. Both fit a UDP error reply to an announce
	// (at most 90 bytes, see handlePacket).
	errSlowDown       failure = "too many announces from your address: slow down"
	errSourceTorrents failure = "too many torrents with only your address as peer"
)
