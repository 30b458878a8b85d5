package fetch

import (
	"fmt"
	"net/netip"

	"github.com/btfs/btfs/metainfo"
)

// Judging the senders of a checked piece: the engine's side of trust.go and
// smartban.go.

// blockSenders returns, for each block of a complete piece, the address of
// its sender (invalid where none is known), and the picker ids of the
// senders, each once.
func (t *Torrent) blockSenders(piece int) (from []netip.Addr, ids []int) {
	senders := t.picker.Senders(piece)
	from = make([]netip.Addr, len(senders))
	for i, id := range senders {
		if a, ok := t.addrOf[id]; ok && id >= 0 {
			from[i] = ipOf(a)
		}
		if id >= 0 && !containsInt(ids, id) {
			ids = append(ids, id)
		}
	}
	return from, ids
}

func containsInt(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// judgePassed credits the senders of a piece that passed, ends the parole
// of a sole sender, and settles the piece's earlier failures (smart ban).
func (t *Torrent) judgePassed(piece int, from []netip.Addr, good []metainfo.Hash) {
	if recs := t.suspects[piece]; len(recs) > 0 {
		delete(t.suspects, piece)
		liars, cleared := smartBanVerdict(recs, good)
		for _, ip := range liars {
			t.banIP(ip, fmt.Errorf("sent wrong data for piece %d (its blocks differ from the good copy)", piece))
		}
		for _, ip := range cleared {
			if !t.bans.has(ip) {
				t.trust.cleared(ip)
			}
		}
	}
	var senders []netip.Addr
	for _, ip := range distinctAddrs(from) {
		if !t.bans.has(ip) {
			senders = append(senders, ip)
		}
	}
	for _, ip := range t.trust.passed(senders) {
		t.setParole(ip, false)
		t.log.Debug("peer off parole", "ip", ip, "piece", piece)
	}
}

// judgeFailed keeps the blocks of a piece that failed for smart ban, and
// takes trust from its senders: a sole sender is banned, several go on
// parole (trust.go).
func (t *Torrent) judgeFailed(piece int, from []netip.Addr, hashes []metainfo.Hash) {
	recs, twice := recordFailed(t.suspects[piece], from, hashes)
	t.suspects[piece] = recs
	for _, ip := range twice {
		t.banIP(ip, fmt.Errorf("sent two different copies of a block of piece %d", piece))
	}
	senders := distinctAddrs(from)
	ban, parole := t.trust.failed(senders, t.bans.has)
	for _, ip := range ban {
		why := fmt.Errorf("trust fell to %d with piece %d, which failed its hash check", trustBan, piece)
		if len(senders) == 1 {
			why = fmt.Errorf("sent every block of piece %d, which failed its hash check", piece)
		}
		t.banIP(ip, why)
	}
	for _, ip := range parole {
		t.setParole(ip, true)
		t.log.Info("peer on parole", "ip", ip, "piece", piece, "senders", len(senders))
	}
}

// forgetSenders drops the addresses of departed peers that have no block
// left in a piece still downloading: nothing of theirs is left to judge.
func (t *Torrent) forgetSenders(ids []int) {
	for _, id := range ids {
		if t.peerByPickerID(id) == nil && !t.picker.SentAny(id) {
			delete(t.addrOf, id)
		}
	}
}
