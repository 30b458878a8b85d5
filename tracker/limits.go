package tracker

import "time"

// Server limits. Each bounds what one request, or all of them together, can
// make the tracker spend; a request over a limit is refused before it
// changes any state.
const (
	// maxAnnounceQuery bounds an HTTP announce's query string. A real one,
	// every byte of both hashes escaped, is under 400 bytes; 4 KiB leaves
	// room for the extra parameters clients add and is cheap to refuse.
	maxAnnounceQuery = 4 << 10

	// maxScrapeQuery fits maxScrapeHashes info_hash parameters with every
	// byte escaped (74 × 71 bytes), and little else.
	maxScrapeQuery = 8 << 10

	// maxScrapeHashes is the most hashes one scrape may name: what fits a
	// BEP 15 scrape in one Ethernet frame (16 + 74×20 = 1496 bytes). HTTP
	// uses the same, so a scrape costs the same on either transport.
	maxScrapeHashes = 74

	// maxParamName is the longest decoded parameter name compared against
	// the ones we know (the longest, "downloaded" and "no_peer_id", have 10
	// bytes); longer names are unknown and skipped.
	maxParamName = 16

	// maxIPParam bounds the ip parameter: the longest IPv6 literal has 45
	// characters. We never resolve names, so nothing longer is useful.
	maxIPParam = 64

	// maxKeyParam bounds the key parameter; clients send 8 hex digits.
	maxKeyParam = 64

	// maxUDPRequest is the largest BEP 15 request: a scrape of
	// maxScrapeHashes. Larger datagrams are dropped unread.
	maxUDPRequest = udpHeaderLen + maxScrapeHashes*20

	// maxUDPPeers4 and maxUDPPeers6 cap the peers in one UDP announce reply
	// so it fits one packet without fragmentation: 20 + 200×6 bytes fits a
	// 1500-byte Ethernet MTU, and 20 + 66×18 fits IPv6's 1280-byte minimum.
	maxUDPPeers4 = 200
	maxUDPPeers6 = 66

	// udpConnIDWindow is the time slot a BEP 15 connection id is minted
	// for. Ids from the current and the previous slot are accepted, so an id
	// lives between one and two minutes: BEP 15's "a client may use it for
	// one minute, a server accepts it for two".
	udpConnIDWindow = time.Minute
)

// Server defaults for ServerOptions fields left zero. The limits are
// exported so that flags can show them.
const (
	defaultInterval           = 30 * time.Minute
	defaultMinInterval        = 5 * time.Minute
	defaultNumWant            = 50
	defaultMaxNumWant         = 200
	DefaultMaxTorrents        = 100_000
	DefaultMaxPeers           = 1_000_000 // about 100 MB of peers at worst
	DefaultMaxPeersPerTorrent = 10_000

	// DefaultPerIPAnnounceRate and DefaultPerIPAnnounceBurst: one address
	// may announce 50 times a second, 1000 at once. Behind one address may
	// be a NAT of many clients, each announcing its torrents every
	// interval (30 min), and a client starting with a thousand torrents
	// announces them together; 50 a second is still a thousandth of what
	// the tracker answers, so no one host takes more than its share.
	DefaultPerIPAnnounceRate  = 50
	DefaultPerIPAnnounceBurst = 1000

	// DefaultPerIPMaxTorrents is how many torrents one address may be the
	// only source of: a host that starts the swarm of each of its torrents
	// (a seedbox) rarely does so for more than a thousand at a time, while
	// a hundred addresses are then needed to fill DefaultMaxTorrents.
	DefaultPerIPMaxTorrents = 1000
)

// maxSources bounds the per-address table (sources.go): 64 Ki entries of 40
// bytes, a few MB with the map's overhead, however many addresses announce.
// It only needs to hold the addresses active within a burst's refill time
// and those that own torrents.
const maxSources = 1 << 16

// maxAnnounceRate bounds PerIPAnnounceRate so that a token is at least a
// microsecond: an announce reads the clock before it waits for the lock of
// its address's entry, so two announces from one address can meet the
// bucket in the other order, and the burst must cover that skew (with a
// burst as large as the rate, a second's worth).
const maxAnnounceRate = 1_000_000

// Client limits.
const (
	// maxHTTPResponse bounds the body read from an HTTP tracker: 200 peers
	// in the dictionary model take about 15 KB, so 1 MiB is generous and
	// keeps a broken or hostile tracker from filling memory.
	maxHTTPResponse = 1 << 20

	// maxUDPResponse bounds a UDP reply: 20 + 18×450 bytes, more peers than
	// any tracker sends in one packet.
	maxUDPResponse = 8 << 10

	// clientConnIDTTL is how long a client uses a BEP 15 connection id.
	clientConnIDTTL = time.Minute

	// maxCachedConnIDs bounds the client's connection id cache; a client
	// talks to a handful of trackers, so overflowing it just starts over.
	maxCachedConnIDs = 256

	// defaultUDPTimeout and defaultUDPRetries are BEP 15's retransmission
	// schedule: wait 15·2^n seconds after the n-th try, n up to 8.
	defaultUDPTimeout = 15 * time.Second
	defaultUDPRetries = 8
)
