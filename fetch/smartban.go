package fetch

import (
	"net/netip"
	"slices"

	"github.com/btfs/btfs/metainfo"
)

// Smart ban (libtorrent's): a piece that fails its hash check says only that
// one of its senders lied, not which. Its blocks' hashes are kept with their
// senders, and the piece is downloaded again from one peer alone (picker
// rule 6). If that download passes, each kept block that differs from the
// good one names a liar; if it fails, its one sender is to blame (trust.go
// rule 3). A sender that sends one block twice with different data lied at
// least once, and is named at once.

// maxSuspectFailures bounds the failed downloads of one piece whose blocks
// are kept: each failure bans or paroles its senders, so a piece fails a
// few times at most; the oldest are forgotten past it.
const maxSuspectFailures = 4

// blockRecord is one block of a failed download: who sent it and what it
// hashed to.
type blockRecord struct {
	index int
	from  netip.Addr
	hash  metainfo.Hash
}

// recordFailed adds a failed download of a piece to recs: from[i] sent
// block i (an invalid address: nobody we know), which hashed to hashes[i].
// It returns the records kept, and the addresses that sent a block with
// other data than they sent the last time.
func recordFailed(recs []blockRecord, from []netip.Addr, hashes []metainfo.Hash) (kept []blockRecord, twice []netip.Addr) {
	for i, ip := range from {
		if !ip.IsValid() || i >= len(hashes) {
			continue
		}
		at := slices.IndexFunc(recs, func(r blockRecord) bool { return r.index == i && r.from == ip })
		switch {
		case at < 0:
			recs = append(recs, blockRecord{index: i, from: ip, hash: hashes[i]})
		case recs[at].hash != hashes[i]:
			if !slices.Contains(twice, ip) {
				twice = append(twice, ip)
			}
			recs[at].hash = hashes[i]
		}
	}
	if over := len(recs) - maxSuspectFailures*len(hashes); over > 0 {
		recs = slices.Delete(recs, 0, over)
	}
	return recs, twice
}

// smartBanVerdict compares the records of a piece's failed downloads with
// the hashes of its blocks once it passed: the senders of a block that
// differs lied; those whose blocks all matched are cleared of the failure.
func smartBanVerdict(recs []blockRecord, good []metainfo.Hash) (liars, cleared []netip.Addr) {
	for _, r := range recs {
		if r.index < len(good) && r.hash != good[r.index] && !slices.Contains(liars, r.from) {
			liars = append(liars, r.from)
		}
	}
	for _, r := range recs {
		if !slices.Contains(liars, r.from) && !slices.Contains(cleared, r.from) {
			cleared = append(cleared, r.from)
		}
	}
	return liars, cleared
}

// distinctAddrs lists the valid addresses of from, each once, in order.
func distinctAddrs(from []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, ip := range from {
		if ip.IsValid() && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}
