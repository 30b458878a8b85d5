// Package magnet parses and writes BitTorrent magnet links (BEP 9):
//
//	magnet:?xt=urn:btih:<info-hash>&dn=<name>&tr=<tracker>&x.pe=<peer>&ws=<web seed>
//
// Rules Parse follows (and String writes back, so that parsing a link's
// String gives the same Link):
//
//   - The link starts with "magnet:?" (the scheme in any case). Parameters are
//     split at '&'; names are matched in any case; values are unescaped as in
//     a URL query ('+' is a space). A bad %-escape is an error.
//   - xt=urn:btih: carries the info-hash: 40 hex or 32 base32 characters, in
//     either case. It is required. Repeating it with the same hash is
//     harmless; two different hashes are an error. A link with only a BEP 52
//     urn:btmh: (BitTorrent v2) hash is refused (not supported yet); a hybrid
//     link with both loads through its v1 hash. Other xt values (ed2k, ...)
//     are ignored.
//   - dn is the display name (the first one), shown until the metadata comes.
//   - tr is a tracker, each in a tier of its own, in order, as libtorrent
//     does. tr.N (N a number) puts a tracker in tier "N": the trackers of one
//     N share a tier, placed where that N first appears. Spaces around a URL
//     are dropped, and so are empty and repeated ones.
//   - x.pe is a peer to connect to: host:port, where host is an IPv4
//     address, an [IPv6] address or a DNS name, and port is 1 to 65535. An
//     unusable one is skipped, with a warning naming it (Link.Warnings): the
//     link's other peers, trackers and the DHT can still find the torrent.
//     Addresses are kept in their canonical form, duplicates dropped.
//   - ws is a web seed (BEP 19). Only http and https URLs are kept, as for a
//     .torrent file's url-list; duplicates are dropped.
//   - Other parameters (xl, as, xs, kt, so, x.*) are ignored.
//   - A link longer than MaxLength is refused.
package magnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/btfs/btfs/metainfo"
)

// MaxLength bounds a magnet link. It is a command-line argument, and Linux
// refuses a longer one (MAX_ARG_STRLEN, 128 KiB); so every count in a Link
// (trackers, peers, web seeds) is bounded by it too.
const MaxLength = 128 << 10

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid magnet link")

// Link is a parsed magnet link.
type Link struct {
	InfoHash metainfo.Hash
	// Name is the display name (dn), as given; empty if absent. The torrent's
	// own name, from its metadata, replaces it.
	Name string
	// Trackers are the announce URLs in BEP 12 tiers.
	Trackers [][]string
	// Peers are addresses to ask for the torrent (x.pe), each "host:port"
	// ("1.2.3.4:6881", "[2001:db8::1]:6881", "peer.example:6881").
	Peers []string
	// WebSeeds are BEP 19 web seed URLs (ws).
	WebSeeds []string
	// Warnings say what Parse skipped (an unusable x.pe), for the user; at
	// most MaxWarnings, the last of which may count the rest. String leaves
	// them out.
	Warnings []string
}

// MaxWarnings bounds Link.Warnings: a link may hold thousands of bad
// peers, and a few lines say enough.
const MaxWarnings = 10

// Prefixes of the xt values we know.
const (
	btih = "urn:btih:" // BitTorrent v1 info-hash (BEP 9)
	btmh = "urn:btmh:" // BitTorrent v2 multihash (BEP 52)
)

// Parse reads a magnet link; see the package documentation for its rules.
func Parse(uri string) (Link, error) {
	var l Link
	if len(uri) > MaxLength {
		return l, invalid("%d bytes, more than the limit of %d", len(uri), MaxLength)
	}
	const scheme = "magnet:?"
	if len(uri) < len(scheme) || !strings.EqualFold(uri[:len(scheme)], scheme) {
		return l, invalid("%q does not start with %q", cut(uri), scheme)
	}
	var p parser
	for param := range strings.SplitSeq(uri[len(scheme):], "&") {
		if param == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(param, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return Link{}, invalid("bad escape in parameter name %q", cut(rawKey))
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return Link{}, invalid("bad escape in %s=%s", key, cut(rawValue))
		}
		if err := p.add(&l, strings.ToLower(key), value); err != nil {
			return Link{}, err
		}
	}
	switch {
	case p.hash:
	case p.v2:
		return Link{}, invalid("it has only a BitTorrent v2 info-hash (xt=%s...), which btfs does not support yet; use a link with xt=%s", btmh, btih)
	default:
		return Link{}, invalid("no info-hash: a BitTorrent magnet link has xt=%s followed by 40 hex or 32 base32 characters", btih)
	}
	return l, nil
}

// parser is the state of one Parse beyond the Link it fills.
type parser struct {
	hash, v2, name bool
	tiers          map[string]int // tr.N's N -> index of its tier in Link.Trackers
	seen           map[string]bool
	unshown        int // warnings counted in the last one, past MaxWarnings
}

// warn notes something Parse skipped. Past MaxWarnings, the last warning
// gives way to a count of those not shown.
func (p *parser) warn(l *Link, format string, args ...any) {
	if len(l.Warnings) < MaxWarnings {
		l.Warnings = append(l.Warnings, fmt.Sprintf(format, args...))
		return
	}
	if p.unshown == 0 {
		p.unshown = 1 // the warning the count replaces
	}
	p.unshown++
	l.Warnings[MaxWarnings-1] = fmt.Sprintf("and %d more unusable x.pe skipped", p.unshown)
}

func (p *parser) add(l *Link, key, value string) error {
	switch {
	case key == "xt" || strings.HasPrefix(key, "xt."):
		return p.addTopic(l, value)
	case key == "dn":
		if !p.name {
			l.Name, p.name = value, true
		}
	case key == "tr" || strings.HasPrefix(key, "tr."):
		p.addTracker(l, key, strings.TrimSpace(value))
	case key == "x.pe":
		p.addPeer(l, value)
	case key == "ws":
		if u, err := url.Parse(value); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
			!slices.Contains(l.WebSeeds, value) {
			l.WebSeeds = append(l.WebSeeds, value)
		}
	}
	return nil
}

func (p *parser) addTopic(l *Link, value string) error {
	prefix := strings.ToLower(value[:min(len(value), len(btih))])
	switch prefix {
	case btmh:
		p.v2 = true
	case btih:
		h, err := metainfo.ParseHash(value[len(btih):])
		if err != nil {
			return invalid("xt=%s: the info-hash must be 40 hex or 32 base32 characters", cut(value))
		}
		if p.hash && h != l.InfoHash {
			return invalid("two info-hashes, %s and %s", l.InfoHash, h)
		}
		l.InfoHash, p.hash = h, true
	}
	return nil
}

func (p *parser) addTracker(l *Link, key, u string) {
	if u == "" || p.seen[u] {
		return
	}
	if p.seen == nil {
		p.seen, p.tiers = map[string]bool{}, map[string]int{}
	}
	p.seen[u] = true
	n, numbered := strings.CutPrefix(key, "tr.")
	if numbered {
		if i, ok := p.tiers[n]; ok {
			l.Trackers[i] = append(l.Trackers[i], u)
			return
		}
		p.tiers[n] = len(l.Trackers)
	}
	l.Trackers = append(l.Trackers, []string{u})
}

func (p *parser) addPeer(l *Link, value string) {
	if value == "" {
		return
	}
	peer, err := canonicalPeer(value)
	if err != nil {
		p.warn(l, "x.pe=%s skipped: %v", cut(value), err)
		return
	}
	if !slices.Contains(l.Peers, peer) {
		l.Peers = append(l.Peers, peer)
	}
}

// canonicalPeer checks a host:port and returns its canonical form: an IP
// address as netip writes it, a DNS name in lower case, the port in decimal.
func canonicalPeer(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", errors.New("want host:port, with an IPv6 address in brackets")
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return "", fmt.Errorf("port %q is not 1 to 65535", port)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(ip, uint16(n)).String(), nil
	}
	if strings.HasPrefix(s, "[") || !isDNSName(host) {
		return "", fmt.Errorf("%q is neither an IP address nor a host name", host)
	}
	return net.JoinHostPort(strings.ToLower(host), strconv.FormatUint(n, 10)), nil
}

// isDNSName reports whether s is a syntactically valid host name: dot
// separated labels of letters, digits and hyphens, 1 to 63 bytes each, not
// starting or ending with a hyphen, 253 bytes at most.
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// PeerAddrs returns the peers given as IP addresses, ready to dial; peers
// given by host name need a DNS lookup first.
func (l Link) PeerAddrs() []netip.AddrPort {
	var addrs []netip.AddrPort
	for _, p := range l.Peers {
		if a, err := netip.ParseAddrPort(p); err == nil {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// String writes the link back: the info-hash in lowercase hex, then dn, tr
// (tr.N for the trackers of a tier of several, N its position from 1), x.pe
// and ws, each escaped as in a URL query.
func (l Link) String() string {
	var b strings.Builder
	b.WriteString("magnet:?xt=" + btih + l.InfoHash.String())
	param := func(key, value string) {
		b.WriteString("&" + key + "=" + url.QueryEscape(value))
	}
	if l.Name != "" {
		param("dn", l.Name)
	}
	for i, tier := range l.Trackers {
		key := "tr"
		if len(tier) > 1 {
			key = "tr." + strconv.Itoa(i+1)
		}
		for _, u := range tier {
			param(key, u)
		}
	}
	for _, p := range l.Peers {
		param("x.pe", p)
	}
	for _, ws := range l.WebSeeds {
		param("ws", ws)
	}
	return b.String()
}

// MetaInfo returns the torrent the link names, given its info dictionary
// (fetched from peers): the info checked against the info-hash, with the
// link's trackers and web seeds.
func (l Link) MetaInfo(infoBytes []byte) (*metainfo.MetaInfo, error) {
	return metainfo.FromInfo(infoBytes, l.InfoHash, l.Trackers, l.WebSeeds)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// cut shortens s for an error message.
func cut(s string) string {
	const n = 80
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
