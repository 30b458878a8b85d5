package tracker

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/btfs/btfs/metainfo"
)

func TestParseAnnounceQuery(t *testing.T) {
	h := hashN(1)
	id := idN(1)
	base := "info_hash=" + esc(h[:]) + "&peer_id=" + esc(id[:]) + "&port=6881&left=100"
	spaces := metainfo.Hash([]byte(strings.Repeat(" ", 19) + "+"))
	tests := []struct {
		name  string
		query string
		check func(p *announceParams) bool
	}{
		{"minimal", base, func(p *announceParams) bool {
			return p.infoHash == h && p.peerID == id && p.port == 6881 && p.left == 100 &&
				p.numWant == -1 && p.compact && !p.noPeerID && p.event == EventNone && !p.ip.IsValid()
		}},
		{"every field", base + "&uploaded=7&downloaded=9&event=started&numwant=10&compact=0&no_peer_id=1&ip=10.0.0.1&key=ABCD1234",
			func(p *announceParams) bool {
				return p.uploaded == 7 && p.downloaded == 9 && p.event == EventStarted && p.numWant == 10 &&
					!p.compact && p.noPeerID && p.ip == netip.MustParseAddr("10.0.0.1")
			}},
		{"plus is a space, %2B a plus", "info_hash=" + strings.Repeat("+", 19) + "%2B&peer_id=" + esc(id[:]) + "&port=1&left=0",
			func(p *announceParams) bool { return p.infoHash == spaces }},
		{"escaped name", strings.Replace(base, "info_hash", "%69nfo%5Fhash", 1), func(p *announceParams) bool { return p.infoHash == h }},
		{"lower-case escapes", "info_hash=" + everyByteEscaped(h[:]) + "&peer_id=" + esc(id[:]) + "&port=1&left=0",
			func(p *announceParams) bool { return p.infoHash == h }},
		{"unknown parameters skipped", base + "&supportcrypto=1&corrupt=0&a_very_long_parameter_name_indeed=x&&=", nil},
		{"event empty", base + "&event=empty", func(p *announceParams) bool { return p.event == EventNone }},
		{"event blank", base + "&event=", func(p *announceParams) bool { return p.event == EventNone }},
		{"event paused (BEP 21)", base + "&event=paused", func(p *announceParams) bool { return p.event == EventNone }},
		{"event stopped", base + "&event=stopped", func(p *announceParams) bool { return p.event == EventStopped }},
		{"event completed", base + "&event=completed", func(p *announceParams) bool { return p.event == EventCompleted }},
		{"ip host name ignored", base + "&ip=tracker.example", func(p *announceParams) bool { return !p.ip.IsValid() }},
		{"ip with zone ignored", base + "&ip=fe80::1%25eth0", func(p *announceParams) bool { return !p.ip.IsValid() }},
		{"ip v4-mapped unmapped", base + "&ip=::ffff:10.1.2.3", func(p *announceParams) bool { return p.ip == netip.MustParseAddr("10.1.2.3") }},
		{"ip v6", base + "&ip=2001%3Adb8%3A%3A1", func(p *announceParams) bool { return p.ip == netip.MustParseAddr("2001:db8::1") }},
		{"numwant huge is capped", base + "&numwant=9999999999999", func(p *announceParams) bool { return p.numWant == 1<<30 }},
		{"max int64", base + "&uploaded=9223372036854775807", func(p *announceParams) bool { return p.uploaded == 1<<63-1 }},
		{"leading zeros", strings.Replace(base, "port=6881", "port=06881", 1), func(p *announceParams) bool { return p.port == 6881 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p announceParams
			if err := parseAnnounceQuery(tt.query, &p); err != nil {
				t.Fatalf("parse %q: %v", tt.query, err)
			}
			if tt.check != nil && !tt.check(&p) {
				t.Fatalf("parse %q: got %+v", tt.query, p)
			}
		})
	}
}

func TestParseAnnounceQueryErrors(t *testing.T) {
	h := hashN(1)
	id := idN(1)
	ih := "info_hash=" + esc(h[:])
	pid := "&peer_id=" + esc(id[:])
	base := ih + pid + "&port=6881&left=100"
	tests := []struct {
		name  string
		query string
		want  failure
	}{
		{"empty", "", errMissingInfoHash},
		{"missing info_hash", "peer_id=" + esc(id[:]) + "&port=1&left=0", errMissingInfoHash},
		{"short info_hash", "info_hash=" + esc(h[:19]) + pid + "&port=1&left=0", errBadInfoHash},
		{"long info_hash", ih + "00" + pid + "&port=1&left=0", errBadInfoHash},
		{"empty info_hash", "info_hash=" + pid + "&port=1&left=0", errBadInfoHash},
		{"hex info_hash", "info_hash=" + h.String() + pid + "&port=1&left=0", errBadInfoHash},
		{"missing peer_id", ih + "&port=1&left=0", errMissingPeerID},
		{"short peer_id", ih + "&peer_id=abc&port=1&left=0", errBadPeerID},
		{"missing port", ih + pid + "&left=0", errMissingPort},
		{"port 0", ih + pid + "&port=0&left=0", errBadPort},
		{"port 65536", ih + pid + "&port=65536&left=0", errBadPort},
		{"port negative", ih + pid + "&port=-1&left=0", errBadPort},
		{"port not a number", ih + pid + "&port=http&left=0", errBadPort},
		{"port empty", ih + pid + "&port=&left=0", errBadPort},
		{"missing left", ih + pid + "&port=1", errMissingLeft},
		{"negative left", ih + pid + "&port=1&left=-5", errBadNumber},
		{"left with sign", ih + pid + "&port=1&left=%2B5", errBadNumber},
		{"uploaded not a number", base + "&uploaded=abc", errBadNumber},
		{"downloaded float", base + "&downloaded=1e5", errBadNumber},
		{"numwant negative", base + "&numwant=-1", errBadNumber},
		{"uploaded overflows", base + "&uploaded=9223372036854775808", errBadNumber},
		{"uploaded 20 digits", base + "&uploaded=10000000000000000000", errBadNumber},
		{"unknown event", base + "&event=finished", errBadEvent},
		{"long event", base + "&event=" + strings.Repeat("s", 40), errBadEvent},
		{"compact 2", base + "&compact=2", errBadFlag},
		{"no_peer_id yes", base + "&no_peer_id=yes", errBadFlag},
		{"bad escape", "info_hash=%zz" + pid + "&port=1&left=0", errBadEscape},
		{"truncated escape", base + "&x=%4", errBadEscape},
		{"escape at end", base + "&x=%", errBadEscape},
		{"bad escape in unknown value", base + "&supportcrypto=%G1", errBadEscape},
		{"bad escape in long name", base + "&" + strings.Repeat("n", 30) + "%=1", errBadEscape},
		{"bad escape past a long value", base + "&ip=" + strings.Repeat("1", 70) + "%x", errBadEscape},
		{"duplicate port", base + "&port=2", errDuplicate},
		{"duplicate info_hash", base + "&" + ih, errDuplicate},
		{"key too long", base + "&key=" + strings.Repeat("k", 65), errBadKey},
		{"ip too long", base + "&ip=" + strings.Repeat("1", 65), errTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p announceParams
			err := parseAnnounceQuery(tt.query, &p)
			if err != tt.want {
				t.Fatalf("parse %q: got error %v, want %v", tt.query, err, tt.want)
			}
		})
	}
}

func TestParseScrapeQuery(t *testing.T) {
	h1, h2 := hashN(1), hashN(2)
	many := strings.Repeat("info_hash="+esc(h1[:])+"&", maxScrapeHashes)
	tests := []struct {
		name  string
		query string
		want  int
		err   error
	}{
		{"one", "info_hash=" + esc(h1[:]), 1, nil},
		{"two and others", "info_hash=" + esc(h1[:]) + "&passkey=x&info_hash=" + esc(h2[:]), 2, nil},
		{"the most", many, maxScrapeHashes, nil},
		{"too many", many + "info_hash=" + esc(h1[:]), 0, errTooManyHashes},
		{"none", "passkey=x", 0, errNoScrapeHash},
		{"empty", "", 0, errNoScrapeHash},
		{"short hash", "info_hash=abc", 0, errBadInfoHash},
		{"bad escape", "info_hash=" + esc(h1[:]) + "&x=%%", 0, errBadEscape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hs [maxScrapeHashes]metainfo.Hash
			n, err := parseScrapeQuery(tt.query, &hs)
			if err != tt.err || n != tt.want {
				t.Fatalf("got %d, %v; want %d, %v", n, err, tt.want, tt.err)
			}
			if n > 0 && hs[0] != h1 {
				t.Fatalf("first hash %x, want %x", hs[0], h1)
			}
		})
	}
}

// TestQueryRoundTrip checks that what the client writes, the server reads.
func TestQueryRoundTrip(t *testing.T) {
	var all [20]byte
	for i := range all {
		all[i] = byte(i * 13)
	}
	for _, req := range []AnnounceRequest{
		{InfoHash: hashN(3), PeerID: idN(3), Port: 6881, Left: 5, Uploaded: 1, Downloaded: 2, Event: EventStarted, NumWant: 30},
		{InfoHash: metainfo.Hash(all), PeerID: [20]byte{'+', ' ', '%', '&', '='}, Port: 65535, Event: EventStopped,
			IP: netip.MustParseAddr("fd00::7"), TrackerID: "a b&c", Key: 0xdeadbeef},
		{InfoHash: hashN(4), PeerID: idN(4), Port: 1, Event: EventCompleted},
	} {
		q := string(appendAnnounceQuery(nil, &req))
		var p announceParams
		if err := parseAnnounceQuery(q, &p); err != nil {
			t.Fatalf("parse %q: %v", q, err)
		}
		wantNum := req.NumWant
		if req.Event == EventStopped {
			wantNum = 0
		} else if wantNum == 0 {
			wantNum = -1
		}
		if p.infoHash != req.InfoHash || p.peerID != req.PeerID || p.port != req.Port || p.left != req.Left ||
			p.uploaded != req.Uploaded || p.downloaded != req.Downloaded || p.event != req.Event ||
			p.numWant != wantNum || p.ip != req.IP || !p.compact {
			t.Errorf("%q: read back as %+v", q, p)
		}
	}
}

func everyByteEscaped(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		fmt.Fprintf(&sb, "%%%02x", c)
	}
	return sb.String()
}
